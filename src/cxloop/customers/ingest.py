"""``POST /api/v1/events``: one event or a batch, all or nothing, idempotent by the sender's id.

Every item is checked first (type registered, identities valid, unit in
the caller's reach, time not in the future); one fault anywhere refuses the
whole request with each fault's path, and nothing is written. An id seen
before answers the stored event (``replayed``) and is not stored again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.events import EVENTS_STORED, check_event, event_type_names, existing_events
from cxloop.customers.identities import normalise_all
from cxloop.customers.models import ContactEvent
from cxloop.customers.schemas import EventIn, EventOut
from cxloop.customers.service import upsert_contact
from cxloop.identity import Perm, Principal, get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue


@dataclass
class _Checked:
    item: EventIn
    unit_id: str | None
    unit_code: str | None
    identities: dict[str, str]
    occurred_at: Any
    attributes: dict[str, Any]


def _pydantic_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors():
        path = prefix.rstrip(".")
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
        errors.append(FieldError(path or "body", str(error["msg"]).removeprefix("Value error, ")))
    return errors


async def ingest(
    session: AsyncSession, principal: Principal, raw_items: list[Any], *, batch: bool
) -> list[EventOut]:
    principal.require(Perm.DATA_WRITE)
    tenant_id = principal.tenant_id
    reach = principal.reach(Perm.DATA_WRITE)
    known = await event_type_names(session, tenant_id)
    now = utc_now()
    units: dict[str, Any] = {}
    errors: list[FieldError] = []
    checked: list[_Checked] = []
    for index, raw in enumerate(raw_items):
        prefix = f"events[{index}]." if batch else ""
        try:
            item = raw if isinstance(raw, EventIn) else EventIn.model_validate(raw)
        except ValidationError as exc:
            errors += _pydantic_errors(exc, prefix)
            continue
        occurred_at, attributes, item_errors = check_event(
            item.id, item.type, item.occurred_at, item.attributes, known, now, prefix
        )
        errors += item_errors
        identities = item.contact.model_dump(exclude_none=True)
        _cleaned, identity_errors = normalise_all(identities, path=f"{prefix}contact")
        errors += identity_errors
        unit_id: str | None = None
        if item.unit_code is not None:
            if item.unit_code not in units:
                units[item.unit_code] = await get_unit_by_code(session, tenant_id, item.unit_code)
            unit = units[item.unit_code]
            if unit is None or not reach.covers(unit.id, unit.path):
                errors.append(FieldError(f"{prefix}unit_code", f"No unit {item.unit_code!r}."))
            else:
                unit_id = unit.id
        elif not reach.everywhere:
            errors.append(
                FieldError(f"{prefix}unit_code", "is required: you may send events for your units only")
            )
        checked.append(_Checked(item, unit_id, item.unit_code, identities, occurred_at, attributes))
    if errors:
        unknown = any("unknown event type" in error.message for error in errors)
        raise ValidationFailed(
            "The event is not valid; see errors."
            if not batch
            else "The batch is not valid; nothing was stored.",
            code="unknown_event_type" if unknown else "validation_failed",
            errors=errors,
        )
    stored = await existing_events(session, tenant_id, [c.item.id for c in checked])
    results: list[EventOut] = []
    new_ids: list[str] = []
    for entry in checked:
        seen = stored.get(entry.item.id)
        if seen is not None:
            results.append(
                _out(seen, entry.unit_code if seen.unit_id == entry.unit_id else None, replayed=True)
            )
            continue
        contact_id = None
        if entry.identities:
            contact_id = await upsert_contact(
                session, tenant_id, entry.identities, new_unit_id=entry.unit_id, source="event"
            )
        event = ContactEvent(
            id=new_id(),
            tenant_id=tenant_id,
            external_id=entry.item.id,
            type=entry.item.type,
            occurred_at=entry.occurred_at,
            received_at=now,
            contact_id=contact_id,
            unit_id=entry.unit_id,
            attributes=entry.attributes,
        )
        session.add(event)
        stored[entry.item.id] = event
        new_ids.append(event.id)
        results.append(_out(event, entry.unit_code, replayed=False))
    if new_ids:
        await session.flush()
        enqueue(session, EVENTS_STORED, {"tenant_id": tenant_id, "event_ids": new_ids})
    return results


def _out(event: ContactEvent, unit_code: str | None, *, replayed: bool) -> EventOut:
    return EventOut(
        id=event.id,
        external_id=event.external_id,
        type=event.type,
        occurred_at=event.occurred_at,
        contact_id=event.contact_id,
        unit_code=unit_code,
        attributes=dict(event.attributes or {}),
        replayed=replayed,
    )
