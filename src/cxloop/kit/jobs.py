"""Jobs behind a small facade, made reliable by a transactional outbox.

``enqueue(session, name, payload)`` writes a row in the caller's transaction,
so a job exists if and only if that transaction commits. After the commit the
boundary (request, job, CLI command) hands the new ids to a transport (Huey,
or inline in tests). If the process dies between commit and hand-off, the
relay (``relay_once``, run by every worker) finds the row still ``pending``
and sends it; a message lost inside the broker is re-sent when its
``dispatched`` row grows stale. Delivery is therefore at least once, and
``run_job`` makes execution effectively once: it locks the row, skips it if
already ``done``, and marks it done in the same transaction as the handler's
own writes. See docs/adr/0004-transactional-outbox.md.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Index, Integer, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.clock import utc_now
from cxloop.kit.db import Base, Database, IdColumnType, JSONType, UTCDateTime
from cxloop.kit.ids import new_id

log = logging.getLogger("cxloop.jobs")

PENDING, DISPATCHED, DONE, DEAD = "pending", "dispatched", "done", "dead"
_SESSION_KEY = "cxloop_outbox_ids"


class OutboxJob(Base):
    __tablename__ = "outbox_jobs"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index(None, "status", "available_at"),)


Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int


_registry: dict[str, JobSpec] = {}


def job(name: str, *, max_attempts: int = 8) -> Callable[[Handler], Handler]:
    """Register an async ``handler(session, payload)`` under a stable name.

    The handler never commits; ``run_job`` commits its writes together with
    the job's completion. It must tolerate running again after a crash that
    happened before that commit (it will have left nothing behind).
    """

    def register(handler: Handler) -> Handler:
        if name in _registry and _registry[name].handler is not handler:
            raise ValueError(f"job {name!r} is registered twice")
        _registry[name] = JobSpec(name, handler, max_attempts)
        return handler

    return register


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_registry)


def enqueue(
    session: AsyncSession, name: str, payload: dict[str, Any], *, delay: timedelta | None = None
) -> str:
    if name not in _registry:
        raise LookupError(f"unknown job {name!r}")
    now = utc_now()
    job_id = new_id()
    session.add(
        OutboxJob(
            id=job_id,
            name=name,
            payload=payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            available_at=now + (delay or timedelta()),
        )
    )
    session.info.setdefault(_SESSION_KEY, []).append(job_id)
    return job_id


def take_enqueued(session: AsyncSession) -> list[str]:
    """Ids enqueued in this session's transaction; call after a commit."""
    ids: list[str] = session.info.pop(_SESSION_KEY, [])
    return ids


def forget_enqueued(session: AsyncSession) -> None:
    """After a rollback the rows are gone, so are their ids."""
    session.info.pop(_SESSION_KEY, None)


class Transport(Protocol):
    async def send(self, job_id: str, eta: datetime | None) -> None: ...


class RetryLater(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, delay: timedelta) -> None:
        super().__init__(f"retry in {delay}")
        self.delay = delay


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at 30 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 1800))


async def hand_off(db: Database, transport: Transport, job_ids: Sequence[str]) -> None:
    """Send freshly committed jobs; a failure here is repaired by the relay."""
    if not job_ids:
        return
    async with db.session(write=False) as session:
        rows = (
            await session.execute(
                select(OutboxJob.id, OutboxJob.available_at).where(OutboxJob.id.in_(job_ids))
            )
        ).all()
    now = utc_now()
    for job_id, available_at in rows:
        try:
            await transport.send(job_id, available_at if available_at > now else None)
        except Exception:
            log.exception("hand-off of job %s failed; the relay will send it", job_id)
            continue
        await _mark_dispatched(db, [job_id])


async def _mark_dispatched(db: Database, job_ids: Sequence[str]) -> None:
    async with db.session(write=True) as session:
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(job_ids), OutboxJob.status.in_([PENDING, DISPATCHED]))
            .values(status=DISPATCHED, dispatched_at=utc_now())
        )
        await session.commit()


async def relay_once(
    db: Database,
    transport: Transport,
    *,
    grace: timedelta = timedelta(seconds=5),
    redispatch_after: timedelta = timedelta(minutes=10),
    batch: int = 500,
) -> int:
    """Send what was committed but never handed off, or lost on the way.

    ``grace`` leaves fresh rows to the after-commit hand-off of the process
    that wrote them; sending twice would be harmless, only wasteful.
    """
    now = utc_now()
    async with db.session(write=False) as session:
        rows = (
            await session.execute(
                select(OutboxJob.id, OutboxJob.available_at)
                .where(
                    or_(
                        (OutboxJob.status == PENDING) & (OutboxJob.created_at <= now - grace),
                        (OutboxJob.status == DISPATCHED)
                        & (OutboxJob.dispatched_at <= now - redispatch_after)
                        & (OutboxJob.available_at <= now - redispatch_after),
                    )
                )
                .order_by(OutboxJob.available_at)
                .limit(batch)
            )
        ).all()
    sent = []
    for job_id, available_at in rows:
        try:
            await transport.send(job_id, available_at if available_at > now else None)
        except Exception:
            log.exception("relay could not send job %s", job_id)
            break
        sent.append(job_id)
    if sent:
        await _mark_dispatched(db, sent)
    return len(sent)


async def run_job(db: Database, job_id: str, transport: Transport | None = None) -> None:
    """Run one job at most once to completion; raise RetryLater to back off."""
    async with db.session(write=True) as session:
        query = select(OutboxJob).where(OutboxJob.id == job_id)
        if db.dialect == "postgresql":
            query = query.with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or row.status in (DONE, DEAD):
            return
        spec = _registry.get(row.name)
        if spec is None:
            row.status, row.last_error, row.finished_at = DEAD, f"no handler for {row.name!r}", utc_now()
            await session.commit()
            return
        payload, name, attempts = dict(row.payload), row.name, row.attempts
        try:
            await spec.handler(session, payload)
            row.status, row.finished_at, row.attempts = DONE, utc_now(), attempts + 1
            await session.commit()
        except Exception:
            await session.rollback()
            forget_enqueued(session)
            error = traceback.format_exc(limit=5)
        else:
            follow_ups = take_enqueued(session)
            log.info("job %s (%s) done", job_id, name)
            if follow_ups and transport is not None:
                await hand_off(db, transport, follow_ups)
            return
    attempts += 1
    dead = attempts >= spec.max_attempts
    async with db.session(write=True) as session:
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .values(
                attempts=attempts,
                last_error=error[-4000:],
                status=DEAD if dead else DISPATCHED,
                finished_at=utc_now() if dead else None,
            )
        )
        await session.commit()
    log.warning("job %s (%s) failed, attempt %d%s", job_id, name, attempts, " (dead)" if dead else "")
    if not dead:
        raise RetryLater(backoff(attempts))
