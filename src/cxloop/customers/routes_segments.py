"""Segments: saved filters with live counts (counted within the caller's scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import Segment
from cxloop.customers.schemas import CountOut, SegmentIn, SegmentOut, SegmentPreviewIn
from cxloop.customers.segments import SegmentFilter, count_matching, get_segment, list_segments, save_segment
from cxloop.identity import CurrentPrincipal, Perm, Principal
from cxloop.kit.http import DbSession, TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["segments"])


async def segment_out(session: AsyncSession, principal: Principal, segment: Segment) -> SegmentOut:
    where = SegmentFilter.model_validate(segment.filter)
    count = await count_matching(session, principal.tenant_id, where, principal.reach(Perm.DATA_READ))
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        filter=segment.filter,
        count=count,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


@router.get("/segments", response_model=list[SegmentOut], summary="Segments with their live counts")
async def get_segments(session: DbSession, principal: CurrentPrincipal) -> list[SegmentOut]:
    principal.require(Perm.DATA_READ)
    return [
        await segment_out(session, principal, s) for s in await list_segments(session, principal.tenant_id)
    ]


@router.post("/segments", response_model=SegmentOut, status_code=201, summary="Save a segment")
async def post_segment(body: SegmentIn, session: DbSession, principal: CurrentPrincipal) -> SegmentOut:
    principal.require(Perm.CONFIG_WRITE)
    segment = await save_segment(session, principal.tenant_id, body.name, body.filter)
    return await segment_out(session, principal, segment)


@router.post("/segments/preview", response_model=CountOut, summary="Count the contacts a filter matches")
async def preview_segment(
    body: SegmentPreviewIn, session: DbSession, principal: CurrentPrincipal
) -> CountOut:
    principal.require(Perm.DATA_READ)
    reach = principal.reach(Perm.DATA_READ)
    return CountOut(count=await count_matching(session, principal.tenant_id, body.filter, reach))


@router.get("/segments/{segment_id}", response_model=SegmentOut, summary="One segment and its count")
async def get_one_segment(segment_id: str, session: DbSession, principal: CurrentPrincipal) -> SegmentOut:
    principal.require(Perm.DATA_READ)
    return await segment_out(session, principal, await get_segment(session, principal.tenant_id, segment_id))


@router.put(
    "/segments/{segment_id}", response_model=SegmentOut, summary="Replace a segment's name and filter"
)
async def put_segment(
    segment_id: str, body: SegmentIn, session: DbSession, principal: CurrentPrincipal
) -> SegmentOut:
    principal.require(Perm.CONFIG_WRITE)
    segment = await get_segment(session, principal.tenant_id, segment_id)
    return await segment_out(
        session, principal, await save_segment(session, principal.tenant_id, body.name, body.filter, segment)
    )


@router.delete("/segments/{segment_id}", status_code=204, summary="Delete a segment")
async def delete_segment(segment_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    await session.delete(await get_segment(session, principal.tenant_id, segment_id))
    await session.flush()
    return Response(status_code=204)
