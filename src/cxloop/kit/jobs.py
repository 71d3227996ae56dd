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

Messages on the broker carry the job id only; payloads stay in the database
and never reach the logs.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Index, Integer, String, Text, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.clock import utc_now
from cxloop.kit.db import Base, Database, IdColumnType, JSONType, UTCDateTime
from cxloop.kit.ids import new_id
from cxloop.kit.writelock import taking_turn

log = logging.getLogger("cxloop.jobs")

PENDING, DISPATCHED, DONE, DEAD = "pending", "dispatched", "done", "dead"
STATUSES = (PENDING, DISPATCHED, DONE, DEAD)
_SESSION_KEY = "cxloop_outbox_ids"

# Fresh rows belong to the after-commit hand-off of the process that wrote
# them; the relay leaves them alone for this long.
RELAY_GRACE = timedelta(seconds=5)
# A dispatched job still not done this long after it was due is taken as lost
# by the broker (or by a worker that died mid-run) and sent again.
REDISPATCH_AFTER = timedelta(minutes=10)


class OutboxJob(Base):
    __tablename__ = "outbox_jobs"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the job is due: at creation, after a delay, or after a retry's backoff.
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
    happened before that commit (it will have left nothing behind). Raise
    ``RetryLater(delay)`` to be tried again after ``delay``; any other
    exception retries with exponential backoff until ``max_attempts``.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

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
    """Add a job to the caller's transaction; it exists only if that commits."""
    if name not in _registry:
        raise LookupError(f"unknown job {name!r}")
    now = utc_now()
    job_id = new_id()
    available_at = now + (delay or timedelta())
    session.add(
        OutboxJob(
            id=job_id,
            name=name,
            payload=payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            available_at=available_at,
        )
    )
    session.info.setdefault(_SESSION_KEY, []).append(job_id)
    _remember_due(job_id, available_at)
    return job_id


def take_enqueued(session: AsyncSession) -> list[str]:
    """Ids enqueued in this session's transaction; call after a commit."""
    ids: list[str] = session.info.pop(_SESSION_KEY, [])
    return ids


def forget_enqueued(session: AsyncSession) -> None:
    """After a rollback the rows are gone, so are their ids."""
    for job_id in session.info.pop(_SESSION_KEY, None) or ():
        _due.pop(job_id, None)


# When each job enqueued by this process is due, until it is handed off: the
# hand-off then need not read the rows back (a query and a connection per
# request). Bounded, because a job committed outside a boundary (a test, a
# script) is never handed off here; a forgotten id is simply looked up.
_DUE_KEPT = 10_000
_due: OrderedDict[str, datetime] = OrderedDict()


def _remember_due(job_id: str, available_at: datetime) -> None:
    _due[job_id] = available_at
    while len(_due) > _DUE_KEPT:
        _due.popitem(last=False)


class Transport(Protocol):
    async def send(self, job_id: str, eta: datetime | None) -> None: ...


class RetryLater(Exception):  # a signal to back off, not an error
    def __init__(self, delay: timedelta) -> None:
        super().__init__(f"retry in {delay}")
        self.delay = delay


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at 30 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 1800))


def _eta(available_at: datetime, now: datetime) -> datetime | None:
    return available_at if available_at > now else None


async def hand_off(
    db: Database, transport: Transport, job_ids: Sequence[str], *, mark_later: bool = False
) -> None:
    """Send freshly committed jobs. Never raises: the caller's change is
    already committed, and whatever is not sent here the relay sends later.

    Sent jobs are marked dispatched before this returns, or with
    ``mark_later`` within ``MARK_DELAY`` together with other hand-offs of this
    process (the request boundary: one UPDATE for many requests). A mark that
    never happens (the process died) only means the relay sends the job again
    after ``RELAY_GRACE``, and ``run_job`` runs it once.
    """
    if not job_ids:
        return
    rows: list[tuple[str, datetime]] = []
    unknown: list[str] = []
    for job_id in job_ids:
        due = _due.pop(job_id, None)
        if due is None:
            unknown.append(job_id)
        else:
            rows.append((job_id, due))
    if unknown:
        try:
            async with db.session(write=False) as session:
                found = await session.execute(
                    select(OutboxJob.id, OutboxJob.available_at).where(OutboxJob.id.in_(unknown))
                )
                rows += [(job_id, available_at) for job_id, available_at in found]
        except Exception:
            log.exception("hand-off of %d job(s) failed; the relay will send them", len(unknown))
            if not rows:
                return
    now = utc_now()
    sent: list[str] = []
    for job_id, available_at in rows:
        try:
            await transport.send(job_id, _eta(available_at, now))
        except Exception:
            log.exception("hand-off of job %s failed; the relay will send it", job_id)
            continue
        sent.append(job_id)
    if sent and mark_later:
        _marker(db).mark_soon(sent)
    elif sent:
        await _marker(db).mark(sent)


# Far below RELAY_GRACE, so that the relay does not send a marked-later job again.
MARK_DELAY = 0.05


class _DispatchMarker:
    """Marks sent jobs dispatched, one UPDATE for the hand-offs that queue up meanwhile.

    Under load each request's hand-off would otherwise cost a write
    transaction of its own (on SQLite, another turn of the write lock). A
    caller returns once its own ids are marked, so ``hand_off`` still leaves
    its jobs dispatched; whoever holds the lock marks every id waiting.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = asyncio.Lock()
        self.waiting: list[str] = []
        self.queued = 0  # ids ever added, as a ticket counter
        self.marked = 0  # tickets covered by a finished UPDATE
        self.later: list[str] = []
        self.flusher: asyncio.Task[None] | None = None

    def mark_soon(self, job_ids: list[str]) -> None:
        self.later += job_ids
        if self.flusher is None:
            self.flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            while self.later:
                await asyncio.sleep(MARK_DELAY)
                taken, self.later = self.later, []
                await self.mark(taken)
        finally:
            self.flusher = None

    async def mark(self, job_ids: list[str]) -> None:
        self.waiting += job_ids
        self.queued += len(job_ids)
        ticket = self.queued
        async with self.lock:
            if self.marked >= ticket:
                return  # an UPDATE that started after we queued covered ours
            taken, self.waiting = self.waiting, []
            covered = self.queued
            try:
                await _mark_dispatched(self.db, taken)
            except Exception:
                # Still pending: the relay sends them again, and run_job runs them once.
                log.exception("could not mark %d sent job(s) dispatched", len(taken))
            self.marked = covered


_markers: weakref.WeakKeyDictionary[Database, _DispatchMarker] = weakref.WeakKeyDictionary()


def _marker(db: Database) -> _DispatchMarker:
    marker = _markers.get(db)
    if marker is None:
        marker = _markers[db] = _DispatchMarker(db)
    return marker


async def _mark_dispatched(db: Database, job_ids: Sequence[str]) -> None:
    # A fast worker may already have finished the job: never undo ``done``.
    statement = (
        update(OutboxJob)
        .where(OutboxJob.id.in_(job_ids), OutboxJob.status == PENDING)
        .values(status=DISPATCHED, dispatched_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    if db.dialect == "postgresql":
        # One statement needs no transaction of its own: no BEGIN and COMMIT
        # round trips and no ORM session, on every write request.
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(statement)
        return
    async with taking_turn(db), db.session(write=True) as session:
        await session.execute(statement)
        await session.commit()


def _relay_candidates(now: datetime, grace: timedelta, redispatch_after: timedelta) -> Any:
    return or_(
        (OutboxJob.status == PENDING) & (OutboxJob.created_at <= now - grace),
        (OutboxJob.status == DISPATCHED)
        & (OutboxJob.dispatched_at <= now - redispatch_after)
        & (OutboxJob.available_at <= now - redispatch_after),
    )


async def relay_once(
    db: Database,
    transport: Transport,
    *,
    grace: timedelta = RELAY_GRACE,
    redispatch_after: timedelta = REDISPATCH_AFTER,
    batch: int = 100,
) -> int:
    """Send what was committed but never handed off, or lost on the way.

    Rows are claimed (marked dispatched) in one short transaction before they
    are sent, so several relays (one per worker) do not send the same row;
    PostgreSQL relays skip rows another relay holds. A send that fails puts
    its row and the rest of the batch back as they were. Returns how many
    jobs were sent.
    """
    now = utc_now()
    candidates = _relay_candidates(now, grace, redispatch_after)
    # Most passes find nothing: look before taking SQLite's write lock.
    async with db.session(write=False) as session:
        if not (await session.execute(select(exists().where(candidates)))).scalar():
            return 0
    async with db.session(write=True) as session:
        query = select(OutboxJob).where(candidates).order_by(OutboxJob.available_at).limit(batch)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).scalars().all()
        claimed = [(row.id, row.available_at, row.status, row.dispatched_at) for row in rows]
        for row in rows:
            row.status, row.dispatched_at = DISPATCHED, now
        await session.commit()
    for index, (job_id, available_at, _status, _dispatched_at) in enumerate(claimed):
        try:
            await transport.send(job_id, _eta(available_at, now))
        except Exception:
            log.exception("relay could not send job %s; will try again", job_id)
            await _release(db, claimed[index:], claimed_at=now)
            return index
        log.info("relay sent job %s", job_id)
    return len(claimed)


async def _release(
    db: Database, claims: Sequence[tuple[str, datetime, str, datetime | None]], *, claimed_at: datetime
) -> None:
    async with db.session(write=True) as session:
        for job_id, _available_at, status, dispatched_at in claims:
            await session.execute(
                update(OutboxJob)
                .where(
                    OutboxJob.id == job_id,
                    OutboxJob.status == DISPATCHED,
                    OutboxJob.dispatched_at == claimed_at,
                )
                .values(status=status, dispatched_at=dispatched_at)
            )
        await session.commit()


async def run_job(db: Database, job_id: str, transport: Transport | None = None) -> None:
    """Run one job at most once to completion; raise RetryLater to back off.

    The row stays locked for the whole run (``FOR UPDATE`` on PostgreSQL, the
    write lock on SQLite), so a duplicate delivery waits and then finds the
    job done. The handler runs inside a savepoint: if it fails, its writes are
    undone but the failure is recorded in the same transaction.
    """
    async with db.session(write=True) as session:
        query = select(OutboxJob).where(OutboxJob.id == job_id)
        if db.dialect == "postgresql":
            query = query.with_for_update()
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or row.status in (DONE, DEAD):
            log.info("job %s skipped: %s", job_id, "unknown" if row is None else row.status)
            return
        name, attempts = row.name, row.attempts + 1
        spec = _registry.get(name)
        if spec is None:
            row.status, row.attempts, row.finished_at = DEAD, attempts, utc_now()
            row.last_error = f"no handler is registered for {name!r}"
            await session.commit()
            log.error("job %s (%s) is dead: no handler", job_id, name)
            return
        payload = dict(row.payload)
        try:
            async with session.begin_nested():
                await spec.handler(session, payload)
        except Exception as error:
            forget_enqueued(session)
            delay = error.delay if isinstance(error, RetryLater) else backoff(attempts)
            dead = attempts >= spec.max_attempts
            now = utc_now()
            await session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job_id)
                .values(
                    attempts=attempts,
                    last_error=traceback.format_exc(limit=5)[-4000:],
                    status=DEAD if dead else DISPATCHED,
                    available_at=now if dead else now + delay,
                    finished_at=now if dead else None,
                )
            )
            await session.commit()
            if dead:
                log.error("job %s (%s) failed on attempt %d and is dead", job_id, name, attempts)
                return
            log.warning("job %s (%s) failed on attempt %d; retry in %s", job_id, name, attempts, delay)
            raise RetryLater(delay) from None
        row.status, row.attempts, row.finished_at = DONE, attempts, utc_now()
        await session.commit()
        follow_ups = take_enqueued(session)
    log.info("job %s (%s) done on attempt %d", job_id, name, attempts)
    if follow_ups and transport is not None:
        await hand_off(db, transport, follow_ups)


async def enqueue_unless_queued(db: Database, transport: Transport, name: str) -> str | None:
    """Enqueue a payload-less job unless one of that name is already waiting.

    For periodic work started by every worker's relay loop: however many
    workers there are, the queue holds at most one such job at a time (or a
    harmless second one if two PostgreSQL relays race).
    """
    async with db.session(write=True) as session:
        waiting = await session.execute(
            select(OutboxJob.id)
            .where(OutboxJob.name == name, OutboxJob.status.in_([PENDING, DISPATCHED]))
            .limit(1)
        )
        if waiting.first() is not None:
            return None
        job_id = enqueue(session, name, {})
        await session.commit()
        take_enqueued(session)
    await hand_off(db, transport, [job_id])
    return job_id


@dataclass(frozen=True)
class OutboxStats:
    counts: dict[str, int]
    oldest_pending_at: datetime | None
    oldest_overdue_at: datetime | None


async def outbox_stats(session: AsyncSession, *, now: datetime | None = None) -> OutboxStats:
    """What an operator needs to see a stuck relay or a broker losing jobs."""
    now = now or utc_now()
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in await session.execute(
        select(OutboxJob.status, func.count()).group_by(OutboxJob.status)
    ):
        counts[status] = count
    oldest_pending = (
        await session.execute(
            select(OutboxJob.created_at)
            .where(OutboxJob.status == PENDING)
            .order_by(OutboxJob.created_at)
            .limit(1)
        )
    ).scalar()
    # Dispatched and due, but not done: a backlog, or jobs lost by the broker.
    oldest_overdue = (
        await session.execute(
            select(OutboxJob.available_at)
            .where(OutboxJob.status == DISPATCHED, OutboxJob.available_at <= now)
            .order_by(OutboxJob.available_at)
            .limit(1)
        )
    ).scalar()
    return OutboxStats(counts, oldest_pending, oldest_overdue)


async def purge_finished(
    session: AsyncSession,
    *,
    done_for: timedelta = timedelta(days=7),
    dead_for: timedelta = timedelta(days=30),
) -> int:
    """Drop finished rows: done ones after a week, dead ones (kept to be
    inspected) after a month."""
    now = utc_now()
    result = await session.execute(
        delete(OutboxJob).where(
            or_(
                (OutboxJob.status == DONE) & (OutboxJob.finished_at < now - done_for),
                (OutboxJob.status == DEAD) & (OutboxJob.finished_at < now - dead_for),
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
