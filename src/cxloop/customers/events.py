"""Contact events: types registered per tenant, ingest (idempotent by the sender's id),
and the post-commit subscribers (triggers in distribution listen here).

One ``customers.events_stored`` outbox job per request carries the new
events' ids; after the commit it hands each event to every subscriber, in
registration order, inside the job's transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import ContactEvent, EventType
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, FieldError
from cxloop.kit.ids import new_id

EVENTS_STORED = "customers.events_stored"
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_ATTRIBUTE_BYTES = 16 * 1024

# handler(session, event_id, payload); must tolerate running again after a crash before commit.
EventSubscriber = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[None]]
_subscribers: dict[str, EventSubscriber] = {}


def subscribe_events(name: str) -> Callable[[EventSubscriber], EventSubscriber]:
    """Register ``handler`` under a stable name (one per name), called after each stored event commits."""

    def register(handler: EventSubscriber) -> EventSubscriber:
        known = _subscribers.get(name)
        if known is not None and known is not handler:
            raise ValueError(f"event subscriber {name!r} is registered twice")
        _subscribers[name] = handler
        return handler

    return register


def unsubscribe_events(name: str) -> None:
    _subscribers.pop(name, None)


def event_subscribers() -> dict[str, EventSubscriber]:
    return dict(_subscribers)


async def event_type_names(session: AsyncSession, tenant_id: str) -> list[str]:
    statement = select(EventType.name).where(EventType.tenant_id == tenant_id).order_by(EventType.name)
    return list((await session.execute(statement)).scalars())


async def list_event_types(session: AsyncSession, tenant_id: str) -> list[EventType]:
    statement = select(EventType).where(EventType.tenant_id == tenant_id).order_by(EventType.name)
    return list((await session.execute(statement)).scalars())


async def register_event_type(
    session: AsyncSession, tenant_id: str, name: str, description: str | None = None
) -> EventType:
    if name in await event_type_names(session, tenant_id):
        raise Conflict(f"The event type {name!r} exists already.", code="event_type_exists")
    row = EventType(
        id=new_id(), tenant_id=tenant_id, name=name, description=description, created_at=utc_now()
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class PreparedEvent:
    external_id: str
    type: str
    occurred_at: datetime
    identities: dict[str, str]
    unit_code: str | None
    attributes: dict[str, Any]


def check_event(
    external_id: str,
    type_: str,
    occurred_at: datetime | None,
    attributes: dict[str, Any],
    known_types: list[str],
    now: datetime,
    path: str = "",
) -> tuple[datetime, dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    if type_ not in known_types:
        known = ", ".join(known_types) or "none yet: register types at /api/v1/event-types"
        errors.append(FieldError(f"{path}type", f"unknown event type {type_!r}; known types: {known}"))
    when = (occurred_at or now).astimezone(UTC)
    if when > now + FUTURE_TOLERANCE:
        errors.append(FieldError(f"{path}occurred_at", "may not be in the future"))
    errors += check_event_attributes(attributes, f"{path}attributes")
    return when, attributes, errors


def check_event_attributes(attributes: dict[str, Any], path: str) -> list[FieldError]:
    """Any JSON the sender's system has (nested orders, camelCase keys), within bounds:
    triggers read it, nothing types it."""
    errors: list[FieldError] = []
    for key in attributes:
        if not (1 <= len(key) <= 64 and key.isprintable()):
            errors.append(FieldError(f"{path}.{key[:64]}", "a key has 1 to 64 printable characters"))
    try:
        size = len(json.dumps(attributes, allow_nan=False))
    except ValueError:
        errors.append(FieldError(path, "NaN and Infinity are not JSON numbers"))
    else:
        if size > MAX_ATTRIBUTE_BYTES:
            errors.append(FieldError(path, f"at most {MAX_ATTRIBUTE_BYTES // 1024} KB of attributes"))
    return errors


async def existing_events(
    session: AsyncSession, tenant_id: str, external_ids: list[str]
) -> dict[str, ContactEvent]:
    if not external_ids:
        return {}
    statement = select(ContactEvent).where(
        ContactEvent.tenant_id == tenant_id, ContactEvent.external_id.in_(external_ids)
    )
    return {row.external_id: row for row in (await session.execute(statement)).scalars()}


def event_payload(event: ContactEvent, unit_code: str | None) -> dict[str, Any]:
    return {
        "tenant_id": event.tenant_id,
        "event_id": event.id,
        "external_id": event.external_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "contact_id": event.contact_id,
        "unit_id": event.unit_id,
        "unit_code": unit_code,
        "attributes": dict(event.attributes or {}),
    }
