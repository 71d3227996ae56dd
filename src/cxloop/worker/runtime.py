"""Transports and the worker loop that executes outbox jobs.

Huey only ever carries a job id (``cxloop.run_job(job_id)``); the payload
stays in the outbox row, so broker contents and logs hold no customer data.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from huey import MemoryHuey, PriorityRedisHuey
from huey.api import Huey
from huey.exceptions import RetryTask
from huey.storage import RedisPriorityQueue
from sqlalchemy.exc import InterfaceError, OperationalError

from cxloop.kit.db import Database
from cxloop.kit.jobs import (
    RELAY_GRACE,
    RetryLater,
    enqueue_unless_queued,
    registered_jobs,
    relay_once,
    run_job,
)
from cxloop.kit.settings import Settings
from cxloop.worker.jobs import PERIODIC_JOBS
from cxloop.worker.sqlite_queue import TurnTakingSqliteStorage

log = logging.getLogger("cxloop.worker")

RUN_JOB_TASK = "cxloop.run_job"
# The Redis queue is a sorted set ordered by job priority (Redis >= 5). Its own
# name, because the plain list of earlier versions lives under "cxloop"; messages
# left there are sent again by the relay once stale (REDISPATCH_AFTER).
REDIS_QUEUE = "cxloop.prioritised"
RELAY_EVERY_SECONDS = 2.0
SCHEDULE_EVERY_SECONDS = 0.25
# A job whose database was unreachable is tried again this much later.
DATABASE_DOWN_RETRY_SECONDS = 15


class _ThreadContext(threading.local):
    """Each worker thread keeps one event loop and one engine bound to it."""

    loop: asyncio.AbstractEventLoop | None = None
    db: Database | None = None


_context = _ThreadContext()


def _thread_db(url: str) -> tuple[asyncio.AbstractEventLoop, Database]:
    if _context.loop is None or _context.db is None:
        _context.loop = asyncio.new_event_loop()
        _context.db = Database(url)
    return _context.loop, _context.db


def _close_thread_db() -> None:
    loop, db = _context.loop, _context.db
    _context.loop, _context.db = None, None
    if loop is None:
        return
    try:
        if db is not None:
            loop.run_until_complete(db.dispose())
    finally:
        loop.close()


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    # Results are never read: job outcomes live in the outbox row.
    if immediate:
        huey: Huey = MemoryHuey("cxloop", immediate=True, utc=True, results=False)
    elif settings.redis_url:
        huey = PriorityRedisHuey(REDIS_QUEUE, url=settings.redis_url, utc=True, results=False)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        filename = str((settings.data_dir / "jobs.db").resolve())
        huey = Huey(
            "cxloop", storage_class=TurnTakingSqliteStorage, filename=filename, utc=True, results=False
        )
    register_tasks(huey, settings.effective_database_url)
    return huey


def register_tasks(huey: Huey, database_url: str) -> None:
    @huey.task(name=RUN_JOB_TASK, context=False)  # type: ignore[untyped-decorator]
    def run_outbox_job(job_id: str) -> None:
        loop, db = _thread_db(database_url)
        transport = HueyTransport(huey)
        try:
            loop.run_until_complete(run_job(db, job_id, transport))
        except RetryLater as retry:
            raise RetryTask(delay=max(int(retry.delay.total_seconds()), 1)) from retry
        except (OperationalError, InterfaceError):
            log.warning("job %s: database unavailable; retry in %ss", job_id, DATABASE_DOWN_RETRY_SECONDS)
            raise RetryTask(delay=DATABASE_DOWN_RETRY_SECONDS) from None
        except Exception:
            # The row stays dispatched; the relay sends it again once stale.
            log.exception("job %s could not be run", job_id)

    huey.cxloop_run_job = run_outbox_job


REDIS_HANDOFF_CONNECTIONS = 32
REDIS_HANDOFF_TIMEOUT_SECONDS = 5.0


class _CapturedZadd:
    """Stands in for huey's Redis storage so that its own ``enqueue`` builds the
    member and score (a time prefix, the negated priority) for an asyncio
    client to send: the format stays huey's."""

    def __init__(self, queue_key: str) -> None:
        self.queue_key = queue_key
        self.conn = self
        self.sent: tuple[str, dict[bytes, float]] = (queue_key, {})

    def zadd(self, key: str, mapping: dict[bytes, float]) -> None:
        self.sent = (key, mapping)

    @classmethod
    def of(cls, huey: Huey, message: Any) -> tuple[str, dict[bytes, float]]:
        captured = cls(huey.storage.queue_key)
        RedisPriorityQueue.enqueue(captured, huey.serialize_task(message), message.priority)
        return captured.sent


class HueyTransport:
    """Sends job ids to Huey, most urgent first (SQLite and Redis queues both
    order by priority): a webhook never queues behind a pipeline backlog.

    With ``redis_url`` (the web process, on its event loop) a Redis queue is
    written by an asyncio client instead of huey's blocking one on a thread:
    a thread hop per message cost the request path ~75 futex calls, the
    threads taking the GIL in turns with the loop (issue 3, ADR 0031)."""

    takes_priority = True

    def __init__(self, huey: Huey, *, redis_url: str | None = None) -> None:
        self.huey = huey
        self._redis: Any = None
        direct = isinstance(huey.storage, RedisPriorityQueue) and not (huey.results or huey.immediate)
        if redis_url and direct:
            import redis.asyncio

            # Bounded and timed: a hand-off runs on the request path, so a Redis that
            # stops answering must fail it within seconds (the relay sends the job
            # later) rather than hold requests, and a burst waits for a free
            # connection instead of opening thousands.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                redis_url,
                max_connections=REDIS_HANDOFF_CONNECTIONS,
                timeout=REDIS_HANDOFF_TIMEOUT_SECONDS,
                socket_timeout=REDIS_HANDOFF_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_HANDOFF_TIMEOUT_SECONDS,
            )
            self._redis = redis.asyncio.Redis(connection_pool=pool)

    async def send(self, job_id: str, eta: datetime | None) -> None:
        await self.send_prioritised(job_id, eta, 0)

    async def send_prioritised(self, job_id: str, eta: datetime | None, priority: int) -> None:
        message = self.huey.cxloop_run_job.s(job_id, priority=priority or None)
        if eta is not None:
            message.eta = eta.astimezone(UTC).replace(tzinfo=None)
        if self._redis is None:
            await asyncio.to_thread(self.huey.enqueue, message)
            return
        # What huey.enqueue does for this queue (no expiry, no results, no signal
        # receivers), with its one round trip on the loop.
        await self._redis.zadd(*_CapturedZadd.of(self.huey, message))

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class InlineTransport:
    """Runs a job right after the commit that created it (tests, CLI)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def aclose(self) -> None:
        return None

    async def send(self, job_id: str, eta: datetime | None) -> None:
        if eta is not None and eta > datetime.now(UTC):
            return  # the relay sends it when due
        try:
            await run_job(self.db, job_id, self)
        except RetryLater as retry:
            log.info("job %s will be retried by the relay (%s)", job_id, retry.delay)


def make_transport(settings: Settings, db: Database, huey: Huey | None) -> Any:
    if settings.jobs_immediate or huey is None:
        return InlineTransport(db)
    return HueyTransport(huey, redis_url=settings.redis_url)


class EmbeddedWorker:
    """Consumes the Huey queue and runs the outbox relay in background threads.

    Used in the web process when there is no broker, and by ``cxloop worker``.
    The relay loop also starts periodic jobs (housekeeping) when they are due.
    ``stop`` lets a running job finish before the threads end.
    """

    def __init__(
        self,
        huey: Huey,
        database_url: str,
        *,
        consume: bool = True,
        threads: int = 1,
        relay_every: float = RELAY_EVERY_SECONDS,
        relay_grace: timedelta = RELAY_GRACE,
        periodic: Sequence[tuple[str, float]] = PERIODIC_JOBS,
    ) -> None:
        self.huey = huey
        self.database_url = database_url
        self.consume = consume
        self.threads = threads
        self.relay_every = relay_every
        self.relay_grace = relay_grace
        self.periodic = tuple(periodic)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads.append(threading.Thread(target=self._relay_loop, name="cxloop-relay", daemon=True))
        if self.consume:
            for index in range(self.threads):
                self._threads.append(
                    threading.Thread(target=self._consume_loop, name=f"cxloop-worker-{index}", daemon=True)
                )
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
            if thread.is_alive():
                log.warning("%s did not stop within %ss", thread.name, timeout)

    def _relay_loop(self) -> None:
        loop, db = _thread_db(self.database_url)
        transport = HueyTransport(self.huey)
        last_started: dict[str, float] = {}
        try:
            while not self._stop.is_set():
                try:
                    loop.run_until_complete(relay_once(db, transport, grace=self.relay_grace))
                except Exception:
                    log.exception("relay pass failed")
                for name, every in self.periodic:
                    started = last_started.get(name)
                    if started is not None and time.monotonic() - started < every:
                        continue
                    if name not in registered_jobs():
                        continue
                    last_started[name] = time.monotonic()
                    try:
                        job_id = loop.run_until_complete(enqueue_unless_queued(db, transport, name))
                    except Exception:
                        log.exception("could not start periodic job %s", name)
                        continue
                    if job_id:
                        log.info("periodic job %s (%s) enqueued", job_id, name)
                self._stop.wait(self.relay_every)
        finally:
            _close_thread_db()

    def _consume_loop(self) -> None:
        next_schedule = 0.0
        try:
            while not self._stop.is_set():
                try:
                    # Delayed messages (retries, etas) are moved to the queue a few times a
                    # second, not before every message: under load most messages name a job
                    # that a drain already finished, and each broker round trip counts.
                    if time.monotonic() >= next_schedule:
                        next_schedule = time.monotonic() + SCHEDULE_EVERY_SECONDS
                        now = datetime.now(UTC).replace(tzinfo=None)
                        for task in self.huey.read_schedule(now):
                            self.huey.enqueue(task)
                    task = self.huey.dequeue()
                    if task is None:
                        self._stop.wait(0.1)
                        continue
                    self.huey.execute(task)
                except Exception:
                    log.exception("worker loop error")
                    self._stop.wait(0.5)
        finally:
            _close_thread_db()


def eta_in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
