"""Journeys: ordered stages with touchpoints, the labels invitations and responses carry.

A touchpoint key is unique within its journey, so ``touchpoint`` on a
response or an invitation names one stage of one journey.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import Journey
from cxloop.customers.schemas import JourneyIn
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, FieldError, ValidationFailed, not_found
from cxloop.kit.ids import new_id


def _check(body: JourneyIn) -> None:
    errors: list[FieldError] = []
    stages: set[str] = set()
    touchpoints: set[str] = set()
    for s_index, stage in enumerate(body.stages):
        if stage.key in stages:
            errors.append(FieldError(f"stages[{s_index}].key", f"the stage {stage.key!r} is listed twice"))
        stages.add(stage.key)
        for t_index, touchpoint in enumerate(stage.touchpoints):
            if touchpoint.key in touchpoints:
                path = f"stages[{s_index}].touchpoints[{t_index}].key"
                errors.append(FieldError(path, f"the touchpoint {touchpoint.key!r} is used twice"))
            touchpoints.add(touchpoint.key)
    if errors:
        raise ValidationFailed("The journey is not valid; see errors.", errors=errors)


async def list_journeys(session: AsyncSession, tenant_id: str) -> list[Journey]:
    statement = select(Journey).where(Journey.tenant_id == tenant_id).order_by(Journey.key)
    return list((await session.execute(statement)).scalars())


async def get_journey(session: AsyncSession, tenant_id: str, journey_id: str) -> Journey:
    journey = await session.get(Journey, journey_id) if len(journey_id) <= 26 else None
    if journey is None or journey.tenant_id != tenant_id:
        raise not_found("journey")
    return journey


async def save_journey(
    session: AsyncSession, tenant_id: str, body: JourneyIn, journey: Journey | None = None
) -> Journey:
    _check(body)
    clash = (
        await session.execute(
            select(Journey.id).where(Journey.tenant_id == tenant_id, Journey.key == body.key)
        )
    ).scalar_one_or_none()
    if clash is not None and (journey is None or clash != journey.id):
        raise Conflict(f"A journey {body.key!r} exists already.", code="journey_exists")
    now = utc_now()
    if journey is None:
        journey = Journey(id=new_id(), tenant_id=tenant_id, created_at=now)
        session.add(journey)
    journey.key = body.key
    journey.name = dict(body.name)
    journey.stages = [stage.model_dump(mode="json") for stage in body.stages]
    journey.updated_at = now
    await session.flush()
    return journey


async def delete_journey(session: AsyncSession, tenant_id: str, journey_id: str) -> None:
    await session.delete(await get_journey(session, tenant_id, journey_id))
    await session.flush()
