"""The one place that reads the wall clock, so tests can reason about time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import Field

# The days a report or filter may name. Date arithmetic near the ends of
# Python's calendar (a previous period, "the day after") overflows, and no
# customer experience happened in the year 9999.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)
ReportDay = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken to be UTC already (as stored)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def reportable(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY
