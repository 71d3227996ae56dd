"""Ops jobs: the heartbeat round trip and periodic housekeeping."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import purge_expired_logins
from cxloop.kit import idempotency
from cxloop.kit.jobs import job, purge_finished
from cxloop.ops.service import HEARTBEAT_JOB, HOUSEKEEPING_JOB, complete_heartbeat

log = logging.getLogger("cxloop.ops")


class HeartbeatPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heartbeat_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]


@job(HEARTBEAT_JOB, max_attempts=3)
async def run_heartbeat(session: AsyncSession, payload: dict[str, Any]) -> None:
    heartbeat_id = HeartbeatPayload.model_validate(payload).heartbeat_id
    if not await complete_heartbeat(session, heartbeat_id):
        log.info("heartbeat %s no longer exists", heartbeat_id)


@job(HOUSEKEEPING_JOB, max_attempts=3)
async def run_housekeeping(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Expired sessions, old login attempts and idempotency keys, finished jobs."""
    await purge_expired_logins(session)
    await idempotency.purge_expired(session)
    purged = await purge_finished(session)
    log.info("housekeeping: %d finished jobs purged", purged)
