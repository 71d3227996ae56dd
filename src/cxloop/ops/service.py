"""Ops services: heartbeats and the state of the job queue. Never commits."""

from __future__ import annotations

import os
import socket

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Perm, Principal
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import not_found
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import OutboxStats, enqueue, outbox_stats
from cxloop.ops.models import Heartbeat

HEARTBEAT_JOB = "ops.heartbeat"
HOUSEKEEPING_JOB = "ops.housekeeping"


def process_label() -> str:
    """Which process did it: enough to tell web processes from workers."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def request_heartbeat(session: AsyncSession, principal: Principal) -> Heartbeat:
    principal.require(Perm.SYSTEM)
    beat = Heartbeat(
        id=new_id(),
        tenant_id=principal.tenant_id,
        requested_by=principal.user_id or principal.token_id or principal.label[:26],
        requested_at=utc_now(),
        completed_at=None,
        completed_by=None,
        runs=0,
    )
    session.add(beat)
    await session.flush()
    enqueue(session, HEARTBEAT_JOB, {"heartbeat_id": beat.id})
    return beat


async def get_heartbeat(session: AsyncSession, principal: Principal, heartbeat_id: str) -> Heartbeat:
    principal.require(Perm.SYSTEM)
    beat = await session.get(Heartbeat, heartbeat_id)
    if beat is None or beat.tenant_id != principal.tenant_id:
        raise not_found("heartbeat")
    return beat


async def complete_heartbeat(session: AsyncSession, heartbeat_id: str) -> bool:
    """The job's work; False when the heartbeat no longer exists."""
    beat = await session.get(Heartbeat, heartbeat_id)
    if beat is None:
        return False
    beat.completed_at = utc_now()
    beat.completed_by = process_label()
    beat.runs += 1
    return True


async def job_queue_state(session: AsyncSession, principal: Principal) -> OutboxStats:
    principal.require(Perm.SYSTEM)
    return await outbox_stats(session)
