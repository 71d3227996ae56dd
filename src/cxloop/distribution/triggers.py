"""Triggers: an event type plus conditions -> a survey through a channel
after a delay, with an optional re-check when the delay is over.

Conditions are a list that must all hold; each is either
``{"field": "attributes.order_amount", "op": "gt", "value": 100}`` (fields:
``attributes.*`` of the event, ``contact.*`` of the contact's attributes,
``unit_code``, ``type``) or ``{"unit_subtree": "EAST"}`` (the event's unit
is EAST or below it). A matching event leaves a ``TriggerRun`` due at event
time + delay; a zero delay is processed, and its invitation handed to the
channel, in the event's own job; anything later by the periodic tick. Runs
are unique per trigger and event, so an event delivered twice sends once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.delivery import deliver_invitation
from cxloop.distribution.directory import directory
from cxloop.distribution.models import Trigger, TriggerRun
from cxloop.distribution.service import enqueue_deliveries, now_utc, send_survey
from cxloop.identity import Unit, get_unit_by_code
from cxloop.kit.clock import as_utc
from cxloop.kit.errors import AppError
from cxloop.kit.ids import ID_LENGTH, new_id

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PENDING_RUN, DONE_RUN, SKIPPED_RUN = "pending", "sent", "skipped"
Op = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "contains", "exists", "missing"]
Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldCondition(_Strict):
    field: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][\w.]*$")]
    op: Op
    value: Scalar | list[Scalar] = None


class SubtreeCondition(_Strict):
    unit_subtree: Annotated[str, Field(min_length=1, max_length=64)]


ConditionIn = FieldCondition | SubtreeCondition
CONDITIONS = TypeAdapter(list[ConditionIn])


def _lookup(facts: dict[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = facts
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def field_holds(condition: FieldCondition, facts: dict[str, Any]) -> bool:
    present, actual = _lookup(facts, condition.field)
    op, expected = condition.op, condition.value
    if op == "exists":
        return present and actual is not None
    if op == "missing":
        return not present or actual is None
    if not present:
        return False
    if op in ("eq", "ne"):
        left, right = _number(actual), _number(expected)
        same = left == right if left is not None and right is not None else actual == expected
        return same if op == "eq" else not same
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, list) else [expected]
        inside = actual in options
        return inside if op == "in" else not inside
    if op == "contains":
        return isinstance(actual, list | str) and expected in actual
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]


async def _in_subtree(session: AsyncSession, tenant_id: str, unit_id: str | None, code: str) -> bool:
    if unit_id is None:
        return False
    root = await get_unit_by_code(session, tenant_id, code)
    unit = await session.get(Unit, unit_id)
    if root is None or unit is None or unit.tenant_id != tenant_id:
        return False
    return unit.path.startswith(root.path)


async def conditions_hold(
    session: AsyncSession, tenant_id: str, conditions: list[Any], facts: dict[str, Any]
) -> bool:
    for condition in CONDITIONS.validate_python(conditions or []):
        if isinstance(condition, SubtreeCondition):
            if not await _in_subtree(session, tenant_id, facts.get("unit_id"), condition.unit_subtree):
                return False
        elif not field_holds(condition, facts):
            return False
    return True


async def _facts(session: AsyncSession, tenant_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "type": payload.get("type"),
        "unit_id": payload.get("unit_id"),
        "unit_code": payload.get("unit_code"),
        "attributes": dict(payload.get("attributes") or {}),
        "contact": {},
    }
    contact_id = payload.get("contact_id")
    if isinstance(contact_id, str):
        person = await directory().reach(session, tenant_id, contact_id)
        if person is not None:
            facts["contact"] = {**person.attributes, "tags": person.tags, "language": person.language}
            facts["unit_id"] = facts["unit_id"] or person.unit_id
    return facts


def run_invitation_id(trigger_id: str, event_id: str, at: datetime) -> str:
    """The invitation id of a trigger run, the same on every retry of the event's
    job: an inline send whose job failed after the provider call is sent again
    with the same idempotency key (``inv-{id}-0``), so a deduping provider drops it.
    ULID layout (time part from ``at``), 80 bits from a hash of trigger and event."""
    digest = hashlib.sha256(f"{trigger_id}:{event_id}".encode()).digest()
    value = (max(int(at.timestamp() * 1000), 0) % 2**48 << 80) | int.from_bytes(digest[:10], "big")
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _occurred(payload: dict[str, Any], default: datetime) -> datetime:
    """When the event happened (stable across retries of its job), else ``default``."""
    occurred = payload.get("occurred_at")
    try:
        return as_utc(datetime.fromisoformat(occurred)) if isinstance(occurred, str) else as_utc(default)
    except ValueError:
        return as_utc(default)


async def fire(
    session: AsyncSession, run: TriggerRun, trigger: Trigger, now: datetime, batch: list[str] | None = None
) -> None:
    """Send for one due run (after its re-check); records the outcome on the run.
    With ``batch``, a queued invitation's id is left there for the caller to deliver."""
    payload = dict(run.payload)
    if run.contact_id is None:
        run.status, run.outcome = SKIPPED_RUN, "no_contact"
        return
    if trigger.recheck and not await conditions_hold(
        session, run.tenant_id, list(trigger.recheck), await _facts(session, run.tenant_id, payload)
    ):
        run.status, run.outcome = SKIPPED_RUN, "recheck_failed"
        return
    try:
        invitation_id = await send_survey(
            session,
            run.tenant_id,
            run.contact_id,
            trigger.survey_id,
            channel=trigger.channel,
            reason=f"trigger:{trigger.name}"[:64],
            touchpoint=trigger.touchpoint,
            trigger_id=trigger.id,
            unit_id=payload.get("unit_id"),
            now=now,
            batch=batch,
            invitation_id=run_invitation_id(trigger.id, run.event_id, _occurred(payload, run.created_at)),
        )
    except AppError as error:
        run.status, run.outcome = SKIPPED_RUN, error.code[:120]
        return
    run.invitation_id = invitation_id
    run.status, run.outcome = (DONE_RUN, None) if invitation_id else (SKIPPED_RUN, "send_skipped")


async def on_event(session: AsyncSession, event_id: str, payload: dict[str, Any]) -> int:
    """The customers event subscriber: a run per matching trigger; answers how many matched."""
    tenant_id = str(payload.get("tenant_id") or "")
    event_type = payload.get("type")
    found = await session.execute(
        select(Trigger).where(
            Trigger.tenant_id == tenant_id, Trigger.event_type == event_type, Trigger.enabled.is_(True)
        )
    )
    triggers = list(found.scalars())
    if not triggers:
        return 0
    facts = await _facts(session, tenant_id, payload)
    now = now_utc()
    occurred = payload.get("occurred_at")
    try:
        base = as_utc(datetime.fromisoformat(occurred)) if isinstance(occurred, str) else now
    except ValueError:
        base = now
    matched = 0
    for trigger in triggers:
        if not await conditions_hold(session, tenant_id, list(trigger.conditions or []), facts):
            continue
        exists = await session.execute(
            select(TriggerRun.id).where(TriggerRun.trigger_id == trigger.id, TriggerRun.event_id == event_id)
        )
        if exists.first() is not None:
            continue  # the same event again: it was handled
        matched += 1
        contact_id = payload.get("contact_id")
        run = TriggerRun(
            id=new_id(),
            tenant_id=tenant_id,
            trigger_id=trigger.id,
            event_id=event_id[:64],
            contact_id=contact_id if isinstance(contact_id, str) else None,
            payload=payload,
            # A delay counts from when the event happened, not when it arrived.
            due_at=max(base + timedelta(seconds=trigger.delay_seconds), now)
            if trigger.delay_seconds
            else now,
            status=PENDING_RUN,
            created_at=now,
        )
        session.add(run)
        await session.flush()
        if trigger.delay_seconds == 0:
            # Handed to the channel right here, in the event's own job: one
            # queue hop from event to message instead of two (ADR 0016, amendment).
            inline: list[str] = []
            await fire(session, run, trigger, now, inline)
            for invitation_id in inline:
                await deliver_invitation(session, invitation_id, now=now)
    return matched


async def due_runs(session: AsyncSession, now: datetime, limit: int = 200) -> int:
    found = await session.execute(
        select(TriggerRun, Trigger)
        .join(Trigger, Trigger.id == TriggerRun.trigger_id)
        .where(TriggerRun.status == PENDING_RUN, TriggerRun.due_at <= now)
        .order_by(TriggerRun.due_at)
        .limit(limit)
    )
    count = 0
    batch: list[str] = []
    for run, trigger in found.all():
        if not trigger.enabled:
            run.status, run.outcome = SKIPPED_RUN, "trigger_disabled"
        else:
            await fire(session, run, trigger, now, batch)
        count += 1
    enqueue_deliveries(session, batch)
    return count
