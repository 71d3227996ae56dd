"""The ops API: heartbeats through the job pipeline, and the job queue's state."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from cxloop.identity import CurrentPrincipal
from cxloop.kit.clock import utc_now
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.ops.schemas import HeartbeatOut, JobQueueOut
from cxloop.ops.service import get_heartbeat, job_queue_state, request_heartbeat

router = APIRouter(prefix="/api/v1/system", route_class=TransactionalRoute, tags=["system"])

HeartbeatId = Annotated[str, Path(min_length=1, max_length=26)]


@router.post(
    "/heartbeats",
    status_code=201,
    response_model=HeartbeatOut,
    summary="Send a heartbeat through the job pipeline (admins)",
    description="Commits a heartbeat and enqueues a job that a worker stamps; poll the heartbeat to see it "
    "complete. Proves that requests, the outbox, the broker and the workers are all working.",
    responses={200: {"model": HeartbeatOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_heartbeat(request: Request, session: DbSession, principal: CurrentPrincipal) -> JSONResponse:
    async def create() -> Any:
        beat = await request_heartbeat(session, principal)
        return HeartbeatOut.of(beat).model_dump(mode="json")

    owner = principal.idempotency_owner
    return await idempotent(request, session, owner, {}, create)


@router.get("/heartbeats/{heartbeat_id}", response_model=HeartbeatOut, summary="One heartbeat (admins)")
async def get_one_heartbeat(
    heartbeat_id: HeartbeatId, session: DbSession, principal: CurrentPrincipal
) -> HeartbeatOut:
    return HeartbeatOut.of(await get_heartbeat(session, principal, heartbeat_id))


@router.get(
    "/jobs", response_model=JobQueueOut, summary="The job queue: counts by status, oldest waiting (admins)"
)
async def get_job_queue(session: DbSession, principal: CurrentPrincipal) -> JobQueueOut:
    stats = await job_queue_state(session, principal)
    return JobQueueOut.of(stats, utc_now())
