"""SLA deadlines in business hours of the unit's time zone.

A deadline is "N minutes of business time after the case opened". Business
time comes from the unit's calendar, or the nearest ancestor's, or the
tenant's; with no calendar anywhere every minute counts (so a fresh
installation still has deadlines). All arithmetic is on local wall-clock
intervals converted back to UTC, so daylight-saving changes cost nothing.
See docs/adr/0024-sla-business-hours-and-escalation.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import BusinessCalendar, SlaPolicy
from cxloop.identity import Unit
from cxloop.kit.errors import invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
# A deadline this many days out means the calendar has (almost) no open time.
_HORIZON_DAYS = 800

# Minutes (acknowledge, resolve, escalate every) when a tenant set no policy.
DEFAULT_POLICIES: dict[str, tuple[int, int, int]] = {
    "urgent": (30, 240, 60),
    "high": (60, 480, 120),
    "normal": (240, 1440, 240),
    "low": (480, 2880, 480),
}


@dataclass(frozen=True)
class Policy:
    priority: str
    acknowledge_minutes: int
    resolve_minutes: int
    escalate_every_minutes: int
    business_hours: bool = True


@dataclass(frozen=True)
class Calendar:
    """Opening intervals per weekday (minutes since local midnight)."""

    timezone: str
    hours: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    always_open: bool = False

    def intervals(self, day: date) -> list[tuple[int, int]]:
        if self.always_open:
            return [(0, 1440)]
        if day in self.holidays:
            return []
        if day in self.workdays:
            # A make-up working day runs on Monday's hours.
            return self.hours.get("mon", [])
        return self.hours.get(DAYS[day.weekday()], [])


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_hours(raw: Any, path: str = "hours") -> dict[str, list[tuple[int, int]]]:
    """``{"mon": [["09:00", "18:00"]], ...}`` checked, as minute intervals."""
    if not isinstance(raw, dict):
        raise invalid(path, 'Give opening hours per weekday, e.g. {"mon": [["09:00", "18:00"]]}.')
    parsed: dict[str, list[tuple[int, int]]] = {}
    for day, spans in raw.items():
        if day not in DAYS:
            raise invalid(f"{path}.{day}", f"Weekdays are {', '.join(DAYS)}.")
        if not isinstance(spans, list):
            raise invalid(f"{path}.{day}", "Give a list of [from, to] pairs.")
        out: list[tuple[int, int]] = []
        for index, span in enumerate(spans):
            where = f"{path}.{day}[{index}]"
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(s, str) and _HHMM.match(s) for s in span)
            ):
                raise invalid(where, 'Give ["HH:MM", "HH:MM"].')
            start, end = _minutes(span[0]), _minutes(span[1])
            if end <= start or (out and start < out[-1][1]):
                raise invalid(where, "Intervals must be ordered, not overlap and end after they start.")
            out.append((start, end))
        parsed[day] = out
    return parsed


def parse_dates(raw: Any, path: str) -> frozenset[date]:
    if not isinstance(raw, list):
        raise invalid(path, "Give a list of ISO dates (YYYY-MM-DD).")
    days: set[date] = set()
    for index, item in enumerate(raw):
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise invalid(f"{path}[{index}]", "Not an ISO date (YYYY-MM-DD).") from None
    return frozenset(days)


def calendar_from_row(row: BusinessCalendar | None, timezone: str) -> Calendar:
    if row is None:
        return Calendar(timezone=timezone, always_open=True)
    return Calendar(
        timezone=timezone,
        hours=parse_hours(row.hours),
        holidays=parse_dates(row.holidays, "holidays"),
        workdays=parse_dates(row.workdays, "workdays"),
    )


def add_business_minutes(start: datetime, minutes: int, calendar: Calendar) -> datetime:
    """The instant ``minutes`` of open time after ``start`` (aware, UTC)."""
    if calendar.always_open:
        return start + timedelta(minutes=minutes)
    zone = ZoneInfo(calendar.timezone)
    local = start.astimezone(zone)
    day = local.date()
    # Seconds count too, so a case opened at 09:00:30 is due at 09:30:30.
    offset = local.hour * 60 + local.minute + local.second / 60
    left = float(minutes)
    for _ in range(_HORIZON_DAYS):
        for begin, end in calendar.intervals(day):
            if end <= offset:
                continue
            begin_at = max(float(begin), offset)
            span = end - begin_at
            if left <= span:
                return _instant(day, begin_at + left, zone)
            left -= span
        day += timedelta(days=1)
        offset = 0.0
    raise ValueError("the calendar has no open time within the horizon")


def _instant(day: date, minute: float, zone: ZoneInfo) -> datetime:
    base = datetime.combine(day, time(0), tzinfo=zone)
    whole = int(minute)
    local = base.replace(hour=min(whole // 60, 23)) + timedelta(
        minutes=whole - min(whole // 60, 23) * 60, seconds=round((minute - whole) * 60)
    )
    return local.astimezone(ZoneInfo("UTC"))


async def policy_for(session: AsyncSession, tenant_id: str, priority: str) -> Policy:
    row = (
        await session.execute(
            select(SlaPolicy).where(SlaPolicy.tenant_id == tenant_id, SlaPolicy.priority == priority)
        )
    ).scalar_one_or_none()
    if row is not None:
        return Policy(
            row.priority,
            row.acknowledge_minutes,
            row.resolve_minutes,
            row.escalate_every_minutes,
            row.business_hours,
        )
    ack, resolve, every = DEFAULT_POLICIES[priority]
    return Policy(priority, ack, resolve, every)


async def calendar_for(session: AsyncSession, tenant_id: str, unit: Unit | None, tenant_tz: str) -> Calendar:
    """The unit's calendar, else the nearest ancestor's, else the tenant's."""
    timezone = unit.timezone if unit is not None else tenant_tz
    rows = (
        (await session.execute(select(BusinessCalendar).where(BusinessCalendar.tenant_id == tenant_id)))
        .scalars()
        .all()
    )
    by_unit = {row.unit_id: row for row in rows}
    if unit is not None:
        chain = [part for part in unit.path.split("/") if part]
        for unit_id in reversed(chain):
            if unit_id in by_unit:
                return calendar_from_row(by_unit[unit_id], timezone)
    return calendar_from_row(by_unit.get(None), timezone)


def due(start: datetime, minutes: int, calendar: Calendar, policy: Policy) -> datetime:
    if not policy.business_hours:
        return start + timedelta(minutes=minutes)
    return add_business_minutes(start, minutes, calendar)
