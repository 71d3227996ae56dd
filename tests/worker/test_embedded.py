"""Real Huey queues with the in-process worker: the embedded SQLite queue the
demo uses, and Redis as in production."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from cxloop.kit.db import Database
from cxloop.kit.jobs import enqueue, hand_off, take_enqueued
from cxloop.kit.settings import Settings
from cxloop.web import create_app
from cxloop.worker import EmbeddedWorker, HueyTransport, make_huey, runtime
from tests.factories import Org
from tests.worker.procs import wait_for
from tests.worker.support import calls, outbox_row

REDIS_TEST_DB = 14


def embedded_settings(database_url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        jobs_immediate=False,
        **extra,  # type: ignore[arg-type]
    )


def test_web_process_with_embedded_worker_completes_heartbeats(
    org: Org, database_url: str, tmp_path: Path
) -> None:
    app = create_app(embedded_settings(database_url, tmp_path, embedded_worker=True))
    with TestClient(app) as client:
        ids = [
            client.post("/api/v1/system/heartbeats", headers=org.auth("admin")).json()["id"] for _ in range(3)
        ]

        def all_done() -> list[dict[str, object]] | None:
            beats = [
                client.get(f"/api/v1/system/heartbeats/{i}", headers=org.auth("admin")).json() for i in ids
            ]
            return beats if all(b["completed_at"] for b in beats) else None

        beats = wait_for(all_done, timeout=20, what="the embedded worker to run 3 heartbeats")
        queue = client.get("/api/v1/system/jobs", headers=org.auth("admin")).json()

    assert [b["runs"] for b in beats] == [1, 1, 1]
    assert {b["completed_by"] for b in beats} == {f"{socket.gethostname()}:{os.getpid()}"}
    assert (tmp_path / "data" / "jobs.db").exists()
    assert queue["counts"]["pending"] == 0
    assert queue["counts"]["dead"] == 0


async def _enqueue_and_hand_off(database_url: str, transport: HueyTransport, name: str, key: str) -> str:
    db = Database(database_url)
    try:
        async with db.session(write=True) as session:
            job_id = enqueue(session, name, {"key": key})
            await session.commit()
            take_enqueued(session)
        await hand_off(db, transport, [job_id])
        return job_id
    finally:
        await db.dispose()


async def _row(database_url: str, job_id: str):  # type: ignore[no-untyped-def]
    db = Database(database_url)
    try:
        return await outbox_row(db, job_id)
    finally:
        await db.dispose()


@pytest.fixture
def sqlite_worker(database_url: str, tmp_path: Path) -> Iterator[HueyTransport]:
    huey = make_huey(embedded_settings(database_url, tmp_path))
    worker = EmbeddedWorker(huey, database_url, threads=2, relay_every=0.2, periodic=())
    worker.start()
    try:
        yield HueyTransport(huey)
    finally:
        worker.stop()
    assert not any(thread.is_alive() for thread in worker._threads)


def test_a_retry_asked_for_by_a_handler_goes_through_the_queue(
    sqlite_worker: HueyTransport, database_url: str
) -> None:
    calls.clear()
    started = time.monotonic()
    job_id = asyncio.run(_enqueue_and_hand_off(database_url, sqlite_worker, "tests.not_yet", "queued-retry"))

    def finished() -> object:
        row = asyncio.run(_row(database_url, job_id))
        return row if row.status == "done" else None

    row = wait_for(finished, timeout=20, what="the retried job to finish")
    assert time.monotonic() - started >= 1.0  # the handler's own 1 s delay was honoured
    assert (row.attempts, calls["queued-retry"]) == (2, 2)
    assert "RetryLater" in (row.last_error or "")


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    yield url
    client.flushdb()
    client.close()


@pytest.mark.parametrize("direct", [False, True], ids=["huey-client", "asyncio-client"])
def test_jobs_travel_through_redis(database_url: str, tmp_path: Path, redis_url: str, direct: bool) -> None:
    """Both ways of sending (huey's client on a thread; the web process's asyncio client) feed the worker."""
    calls.clear()
    huey = make_huey(embedded_settings(database_url, tmp_path, redis_url=redis_url))

    async def hand_off_five() -> list[str]:
        transport = HueyTransport(huey, redis_url=redis_url if direct else None)
        try:
            return [
                await _enqueue_and_hand_off(database_url, transport, "tests.count", f"r{i}") for i in range(5)
            ]
        finally:
            await transport.aclose()

    ids = asyncio.run(hand_off_five())
    assert huey.pending_count() == 5  # queued on Redis, nothing consumed yet

    worker = EmbeddedWorker(huey, database_url, threads=2, relay_every=0.2, periodic=())
    worker.start()
    try:

        def all_done() -> bool:
            return all(asyncio.run(_row(database_url, i)).status == "done" for i in ids)

        wait_for(all_done, timeout=20, what="the Redis-fed worker to run 5 jobs")
    finally:
        worker.stop()
    assert [calls[f"r{i}"] for i in range(5)] == [1] * 5
    assert huey.pending_count() == 0


def test_the_asyncio_client_queues_what_hueys_own_enqueue_would(tmp_path: Path, redis_url: str) -> None:
    """Same member (time prefix + huey's serialised task) and score (the negated priority) as huey.enqueue."""
    huey = make_huey(
        embedded_settings("sqlite:///" + str(tmp_path / "unused.db"), tmp_path, redis_url=redis_url)
    )
    client = redis.Redis.from_url(redis_url)
    queue = huey.storage.queue_key

    async def send(transport: HueyTransport) -> None:
        try:
            await transport.send_prioritised("01JOBID", None, 20)
        finally:
            await transport.aclose()

    def queued() -> list[tuple[bytes, float]]:
        items = client.zrange(queue, 0, -1, withscores=True)
        client.delete(queue)
        return [(member[8:], score) for member, score in items]

    asyncio.run(send(HueyTransport(huey)))
    by_huey = queued()
    asyncio.run(send(HueyTransport(huey, redis_url=redis_url)))
    direct = queued()
    client.close()
    assert [score for _, score in direct] == [score for _, score in by_huey] == [-20.0]
    task = huey.deserialize_task(direct[0][0])
    expected = huey.deserialize_task(by_huey[0][0])
    assert (task.name, task.args, task.priority) == (expected.name, expected.args, expected.priority)
    assert (task.name, task.args, task.priority) == ("cxloop.run_job", ("01JOBID",), 20)


def test_a_redis_that_stops_answering_fails_the_hand_off_within_its_timeout(
    database_url: str, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hand-off runs on the request path: a Redis that accepts connections and then says
    nothing must not hold the request; the job stays pending for the relay."""
    monkeypatch.setattr(runtime, "REDIS_HANDOFF_TIMEOUT_SECONDS", 0.5)
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
    silent_url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    huey = make_huey(embedded_settings(database_url, tmp_path, redis_url=redis_url))

    async def hand_off_one() -> str:
        transport = HueyTransport(huey, redis_url=silent_url)
        try:
            return await _enqueue_and_hand_off(database_url, transport, "tests.count", "silent")
        finally:
            await transport.aclose()

    started = time.monotonic()
    try:
        job_id = asyncio.run(hand_off_one())
    finally:
        silent.close()
        for connection in held:
            connection.close()
    assert time.monotonic() - started < 5
    row = asyncio.run(_row(database_url, job_id))
    assert (row.status, row.attempts) == ("pending", 0)
    assert huey.pending_count() == 0
