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
from contextvars import ContextVar
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
# Reads and computes before the job's write transaction (see ``job``).
Preparer = Callable[[AsyncSession, dict[str, Any]], Awaitable[Any]]
#: Where the handler finds what its preparer returned.
PREPARED = "prepared"


# Broker priorities (higher runs first where the broker supports it): what a person
# waits for (a notification, a webhook, a case) before bulk work that merely must
# happen (the pipeline's background lane). See docs/adr/0028-*.
PRIORITY_URGENT = 20
PRIORITY_NORMAL = 0
PRIORITY_BACKGROUND = -20


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int
    priority: int = PRIORITY_NORMAL
    prepare: Preparer | None = None


_registry: dict[str, JobSpec] = {}


def job(
    name: str, *, max_attempts: int = 8, priority: int = PRIORITY_NORMAL, prepare: Preparer | None = None
) -> Callable[[Handler], Handler]:
    """Register an async ``handler(session, payload)`` under a stable name.

    ``prepare(session, payload)``, if given, runs first in a read-only session
    and its result reaches the handler as ``payload[PREPARED]``: slow reading
    and computing (a model over thousands of comments) then happens before
    the write transaction, which on SQLite holds the database's one write
    lock for as long as it lasts. A failure in it counts as the handler's.

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
        _registry[name] = JobSpec(name, handler, max_attempts, priority, prepare)
        return handler

    return register


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_registry)


def priority_of(name: str | None) -> int:
    spec = _registry.get(name) if name is not None else None
    return spec.priority if spec is not None else PRIORITY_NORMAL


def enqueue(
    session: AsyncSession, name: str, payload: dict[str, Any], *, delay: timedelta | None = None
) -> str:
    """Add a job to the caller's transaction; it exists only if that commits."""
    values = outbox_values(name, payload, delay=delay)
    session.add(OutboxJob(**values))
    return added(session, values)


def outbox_values(name: str, payload: dict[str, Any], *, delay: timedelta | None = None) -> dict[str, Any]:
    """The columns of a new job's outbox row, for a caller that inserts it in a
    statement of its own (with other rows, in one round trip) instead of through
    ``enqueue``; it then calls ``added`` in the same transaction."""
    if name not in _registry:
        raise LookupError(f"unknown job {name!r}")
    now = utc_now()
    return {
        "id": new_id(),
        "name": name,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "available_at": now + (delay or timedelta()),
    }


def added(session: AsyncSession, values: dict[str, Any]) -> str:
    """A job row from ``outbox_values``, inserted by the caller in ``session``'s
    transaction, is handed off after the commit like ``enqueue``'s."""
    job_id: str = values["id"]
    session.info.setdefault(_SESSION_KEY, []).append(job_id)
    _remember_due(job_id, values["available_at"], values["name"])
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
_due: OrderedDict[str, tuple[datetime, str]] = OrderedDict()


def _remember_due(job_id: str, available_at: datetime, name: str) -> None:
    _due[job_id] = (available_at, name)
    while len(_due) > _DUE_KEPT:
        _due.popitem(last=False)


class Transport(Protocol):
    async def send(self, job_id: str, eta: datetime | None) -> None: ...


class PrioritisedTransport(Transport, Protocol):
    """A transport whose broker orders messages by priority (``takes_priority`` true)."""

    takes_priority: bool

    async def send_prioritised(self, job_id: str, eta: datetime | None, priority: int) -> None: ...


async def _send(transport: Transport, job_id: str, eta: datetime | None, name: str | None) -> None:
    # Transports that know no priority (tests, inline) keep the one-argument send.
    if getattr(transport, "takes_priority", False):
        prioritised: PrioritisedTransport = transport  # type: ignore[assignment]
        await prioritised.send_prioritised(job_id, eta, priority_of(name))
    else:
        await transport.send(job_id, eta)


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
    rows: list[tuple[str, datetime, str]] = []
    unknown: list[str] = []
    for job_id in job_ids:
        due = _due.pop(job_id, None)
        if due is None:
            unknown.append(job_id)
        else:
            rows.append((job_id, *due))
    if unknown:
        try:
            async with db.session(write=False) as session:
                found = await session.execute(
                    select(OutboxJob.id, OutboxJob.available_at, OutboxJob.name).where(
                        OutboxJob.id.in_(unknown)
                    )
                )
                rows += [(job_id, available_at, name) for job_id, available_at, name in found]
        except Exception:
            log.exception("hand-off of %d job(s) failed; the relay will send them", len(unknown))
            if not rows:
                return
    now = utc_now()
    sent: list[str] = []
    # What a person waits for goes to the broker first.
    rows.sort(key=lambda row: -priority_of(row[2]))
    for job_id, available_at, name in rows:
        try:
            await _send(transport, job_id, _eta(available_at, now), name)
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
        names = {row.id: row.name for row in rows}
        for row in rows:
            row.status, row.dispatched_at = DISPATCHED, now
        await session.commit()
    for index, (job_id, available_at, _status, _dispatched_at) in enumerate(claimed):
        try:
            await _send(transport, job_id, _eta(available_at, now), names[job_id])
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
    # Under load most pipeline messages name a job a drain already finished
    # (claim_waiting): skip those without taking SQLite's write lock or a row lock.
    if job_id in _finished_here:
        log.info("job %s skipped: done", job_id)
        return
    prepared: Any = None
    prepare_error: Exception | None = None
    async with db.session(write=False) as session:
        found = (
            await session.execute(select(OutboxJob.status, OutboxJob.name).where(OutboxJob.id == job_id))
        ).first()
        status = found.status if found is not None else None
        if status in (DONE, DEAD):
            log.info("job %s skipped: %s", job_id, status)
            return
        early = _registry.get(found.name) if found is not None else None
        if early is not None and early.prepare is not None:
            try:
                read = select(OutboxJob.payload).where(OutboxJob.id == job_id)
                prepared = await early.prepare(session, dict((await session.execute(read)).scalar_one()))
            except Exception as error:  # recorded as the handler's failure below
                prepare_error = error
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
        if spec.prepare is not None:
            payload[PREPARED] = prepared
        running = _running.set(job_id)
        try:
            async with session.begin_nested():
                if prepare_error is not None:
                    raise prepare_error
                await spec.handler(session, payload)
        except Exception as error:
            forget_enqueued(session)
            session.info.pop(_FINISHED_KEY, None)
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
        finally:
            _running.reset(running)
        row.status, row.attempts, row.finished_at = DONE, attempts, utc_now()
        await session.commit()
        follow_ups = take_enqueued(session)
        _remember_finished(session.info.pop(_FINISHED_KEY, ()))
    log.info("job %s (%s) done on attempt %d", job_id, name, attempts)
    if follow_ups and transport is not None:
        await hand_off(db, transport, follow_ups)


_running: ContextVar[str | None] = ContextVar("cxloop_running_job", default=None)

# Jobs this process finished through a drain (committed), so that their own
# messages skip without a query. Bounded; a forgotten id is simply looked up.
_FINISHED_KEY = "cxloop_outbox_finished"
_FINISHED_KEPT = 20_000
_finished_here: OrderedDict[str, None] = OrderedDict()


def _remember_finished(job_ids: Sequence[str]) -> None:
    for job_id in job_ids:
        _finished_here[job_id] = None
    while len(_finished_here) > _FINISHED_KEPT:
        _finished_here.popitem(last=False)


def running_job_id() -> str | None:
    """The outbox id of the job whose handler is running in this task, if any."""
    return _running.get()


@dataclass(frozen=True)
class Claimed:
    job_id: str
    payload: dict[str, Any]


async def claim_waiting(session: AsyncSession, name: str, *, limit: int) -> list[Claimed]:
    """Lock up to ``limit`` other due, unfinished jobs of ``name`` for the running handler.

    For handlers that drain a backlog in one transaction (the collection pipeline):
    the handler does their work too and calls ``finish_claimed`` in the same
    transaction, so each claimed job is done exactly when its work commits, and a
    crash before that commit leaves every one of them to run again. Their own
    broker messages later find them done and skip. PostgreSQL skips rows another
    worker holds (``SKIP LOCKED``); on SQLite the job's write turn already excludes
    every other writer. Jobs waiting for a retry (``available_at`` later) are left
    alone, so a failing job keeps its own backoff.
    """
    if limit < 1:
        return []
    own = running_job_id()
    query = (
        select(OutboxJob.id, OutboxJob.payload)
        .where(
            OutboxJob.name == name,
            OutboxJob.status.in_([PENDING, DISPATCHED]),
            OutboxJob.available_at <= utc_now(),
        )
        .order_by(OutboxJob.available_at)
        .limit(limit)
    )
    if own is not None:
        query = query.where(OutboxJob.id != own)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [Claimed(job_id, dict(payload)) for job_id, payload in await session.execute(query)]


class ClaimLost(Exception):
    """A claimed job was finished by someone else meanwhile: roll back, run again."""


async def finish_claimed(session: AsyncSession, job_ids: Sequence[str]) -> None:
    """Mark claimed jobs done in the caller's transaction (see ``claim_waiting``).

    Raises ``ClaimLost`` (and so rolls the whole job back) if any of them is no
    longer unfinished: their work would otherwise commit twice.
    """
    if not job_ids:
        return
    result = await session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(list(job_ids)), OutboxJob.status.in_([PENDING, DISPATCHED]))
        .values(status=DONE, attempts=OutboxJob.attempts + 1, finished_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != len(set(job_ids)):
        raise ClaimLost(f"{len(job_ids)} claimed job(s) changed meanwhile")
    # Known as finished in this process once run_job's commit succeeds.
    session.info.setdefault(_FINISHED_KEY, []).extend(job_ids)


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
