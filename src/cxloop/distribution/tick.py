"""The periodic tick: everything in distribution that waits for a time.

Invitations deferred by quiet hours or backing off after a provider fault,
trigger runs whose delay is over, campaigns whose start came, recurring
campaign members due, reminders due. Each pass takes a bounded number of
rows, so one slow pass never holds the write lock for long; the next pass
continues. ``now`` is injectable: tests move the clock instead of sleeping.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.campaigns import due_campaigns, due_members, due_reminders
from cxloop.distribution.models import QUEUED, RETRYING, SCHEDULED, Invitation
from cxloop.distribution.service import enqueue_deliveries, now_utc
from cxloop.distribution.triggers import due_runs
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.distribution")

TICK_JOB = "distribution.tick"
BATCH = 500


async def release_due(session: AsyncSession, now: datetime, limit: int = BATCH) -> int:
    found = await session.execute(
        select(Invitation)
        .where(Invitation.status.in_((SCHEDULED, RETRYING)), Invitation.due_at <= now)
        .order_by(Invitation.due_at)
        .limit(limit)
    )
    batch: list[str] = []
    for invitation in found.scalars():
        invitation.status = QUEUED
        batch.append(invitation.id)
    enqueue_deliveries(session, batch)
    return len(batch)


async def tick(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    now = now or now_utc()
    done = {
        "campaigns": await due_campaigns(session, now),
        "members": await due_members(session, now),
        "trigger_runs": await due_runs(session, now),
        "reminders": await due_reminders(session, now),
    }
    # Last, so that what the steps above deferred to now is released at once.
    done["released"] = await release_due(session, now)
    if any(done.values()):
        log.info("distribution tick: %s", done)
    return done


@job(TICK_JOB, max_attempts=3)
async def run_tick(session: AsyncSession, payload: dict[str, Any]) -> None:
    await tick(session)
