"""A contact's timeline: its events and responses, and what other domains register.

Distribution (invitations) and cases register a source with
``register_timeline_source``; each is asked for at most ``limit`` entries
and the merged list is cut to ``limit``, newest first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import ContactEvent, ContactResponse

log = logging.getLogger("cxloop.customers")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None


TimelineSource = Callable[[AsyncSession, str, str, int], Awaitable[list[TimelineEntry]]]
_sources: dict[str, TimelineSource] = {}


def register_timeline_source(name: str, fetch: TimelineSource) -> TimelineSource:
    """``fetch(session, tenant_id, contact_id, limit)``; registering a name again replaces it."""
    _sources[name] = fetch
    return fetch


def unregister_timeline_source(name: str) -> None:
    _sources.pop(name, None)


async def _own_events(session: AsyncSession, contact_id: str, limit: int) -> list[TimelineEntry]:
    statement = (
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id)
        .order_by(ContactEvent.occurred_at.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=event.occurred_at,
            kind="event",
            title=event.type,
            detail={"external_id": event.external_id, "attributes": dict(event.attributes or {})},
            ref=event.id,
        )
        for event in (await session.execute(statement)).scalars()
    ]


async def _own_responses(session: AsyncSession, contact_id: str, limit: int) -> list[TimelineEntry]:
    statement = (
        select(ContactResponse)
        .where(ContactResponse.contact_id == contact_id)
        .order_by(ContactResponse.submitted_at.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=link.submitted_at,
            kind="response",
            title="response",
            detail={"survey_id": link.survey_id},
            ref=link.response_id,
        )
        for link in (await session.execute(statement)).scalars()
    ]


async def timeline(
    session: AsyncSession, tenant_id: str, contact_id: str, limit: int = 100
) -> list[TimelineEntry]:
    entries = await _own_events(session, contact_id, limit)
    entries += await _own_responses(session, contact_id, limit)
    for name, fetch in list(_sources.items()):
        try:
            # A savepoint, so that a failed query does not abort the whole transaction.
            async with session.begin_nested():
                entries += await fetch(session, tenant_id, contact_id, limit)
        except Exception:
            # One broken source must not take the contact page down with it.
            log.exception("timeline source %s failed", name)
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
