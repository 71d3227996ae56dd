"""The triggers API: event type + conditions -> survey via channel after a delay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select

from cxloop.distribution.models import Trigger, TriggerRun
from cxloop.distribution.schemas import Channel, Id, Label, Name, Strict
from cxloop.distribution.service import now_utc, open_survey, require_tenant_config
from cxloop.distribution.triggers import CONDITIONS
from cxloop.identity import CurrentPrincipal, Perm
from cxloop.kit.errors import FieldError, ValidationFailed, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.ids import new_id

router = APIRouter(prefix="/api/v1", tags=["distribution"], route_class=TransactionalRoute)
MAX_DELAY = 90 * 24 * 3600


class TriggerIn(Strict):
    name: Name
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$")
    conditions: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    recheck: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    survey_id: Id
    channel: Channel | None = None
    delay_seconds: int = Field(default=0, ge=0, le=MAX_DELAY)
    touchpoint: Label | None = None
    enabled: bool = True


class TriggerPatch(Strict):
    enabled: bool


class TriggerOut(BaseModel):
    id: str
    name: str
    event_type: str
    conditions: list[dict[str, Any]]
    recheck: list[dict[str, Any]]
    survey_id: str
    channel: str | None
    delay_seconds: int
    touchpoint: str | None
    enabled: bool
    created_at: datetime
    runs: dict[str, int] = Field(default_factory=dict)


class TriggerList(BaseModel):
    items: list[TriggerOut]


def _checked(path: str, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        parsed = CONDITIONS.validate_python(conditions)
    except ValidationError as error:
        errors = [
            FieldError(f"{path}[{'.'.join(str(p) for p in e['loc'][:1])}]", e["msg"]) for e in error.errors()
        ]
        raise ValidationFailed("Some conditions are not valid.", errors=errors[:20]) from None
    return [condition.model_dump(exclude_none=False) for condition in parsed]


def trigger_out(row: Trigger, runs: dict[str, int] | None = None) -> TriggerOut:
    return TriggerOut(
        id=row.id,
        name=row.name,
        event_type=row.event_type,
        conditions=list(row.conditions or []),
        recheck=list(row.recheck or []),
        survey_id=row.survey_id,
        channel=row.channel,
        delay_seconds=row.delay_seconds,
        touchpoint=row.touchpoint,
        enabled=row.enabled,
        created_at=row.created_at,
        runs=runs or {},
    )


@router.post("/triggers", status_code=201, response_model=TriggerOut, summary="Create a trigger")
async def post_trigger(body: TriggerIn, session: DbSession, principal: CurrentPrincipal) -> TriggerOut:
    require_tenant_config(principal)
    conditions = _checked("conditions", body.conditions)
    recheck = _checked("recheck", body.recheck)
    await open_survey(session, principal.tenant_id, body.survey_id)
    row = Trigger(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=body.name,
        event_type=body.event_type,
        conditions=conditions,
        recheck=recheck,
        survey_id=body.survey_id,
        channel=body.channel,
        delay_seconds=body.delay_seconds,
        touchpoint=body.touchpoint,
        enabled=body.enabled,
        created_at=now_utc(),
    )
    session.add(row)
    await session.flush()
    return trigger_out(row)


async def run_counts(session: Any, tenant_id: str) -> dict[str, dict[str, int]]:
    found = await session.execute(
        select(TriggerRun.trigger_id, TriggerRun.status, func.count())
        .where(TriggerRun.tenant_id == tenant_id)
        .group_by(TriggerRun.trigger_id, TriggerRun.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for trigger_id, status, count in found.all():
        counts.setdefault(trigger_id, {})[status] = int(count)
    return counts


@router.get("/triggers", response_model=TriggerList, summary="Triggers, with their runs by status")
async def list_triggers(session: DbSession, principal: CurrentPrincipal) -> TriggerList:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(Trigger).where(Trigger.tenant_id == principal.tenant_id).order_by(Trigger.created_at)
    )
    counts = await run_counts(session, principal.tenant_id)
    return TriggerList(items=[trigger_out(row, counts.get(row.id)) for row in found.scalars()])


async def _own(session: Any, tenant_id: str, trigger_id: str) -> Trigger:
    row = await session.get(Trigger, trigger_id) if len(trigger_id) <= 26 else None
    if row is None or row.tenant_id != tenant_id:
        raise not_found("trigger")
    trigger: Trigger = row
    return trigger


@router.patch("/triggers/{trigger_id}", response_model=TriggerOut, summary="Turn a trigger on or off")
async def patch_trigger(
    trigger_id: str, body: TriggerPatch, session: DbSession, principal: CurrentPrincipal
) -> TriggerOut:
    require_tenant_config(principal)
    row = await _own(session, principal.tenant_id, trigger_id)
    row.enabled = body.enabled
    await session.flush()
    return trigger_out(row)


@router.delete("/triggers/{trigger_id}", status_code=204, summary="Delete a trigger")
async def delete_trigger(trigger_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    require_tenant_config(principal)
    row = await _own(session, principal.tenant_id, trigger_id)
    await session.delete(row)
    return Response(status_code=204)
