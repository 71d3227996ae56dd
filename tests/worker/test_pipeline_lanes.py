"""The pipeline's lanes and drain (docs/adr/0028): one prompt-lane job takes the
other waiting jobs of its lane into its transaction, every response still reaches
every subscriber exactly once, a failing drained job is left to run on its own, a
crash before the commit leaves every drained job to run again, the background lane
is a job of its own, and the broker hands out what a person waits for first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import (
    BACKGROUND,
    RESPONSE_STORED,
    RESPONSE_STORED_BACKGROUND,
    pipeline,
    subscribe,
    subscribe_batch,
)
from cxloop.collection import tasks as collection_tasks  # noqa: F401  (registers the jobs)
from cxloop.kit.db import Database
from cxloop.kit.jobs import (
    PRIORITY_BACKGROUND,
    PRIORITY_URGENT,
    OutboxJob,
    RetryLater,
    enqueue,
    hand_off,
    job,
    run_job,
    take_enqueued,
)
from cxloop.kit.settings import Settings
from cxloop.worker import HueyTransport, make_huey
from tests.worker.support import RecordingTransport

PROMPT_CALLS: list[str] = []
BACKGROUND_CALLS: list[str] = []
FAIL_ONCE: set[str] = set()


@pytest.fixture
def only_recorders() -> Iterator[None]:
    """Just two recording subscribers, one per lane (the domains' own are not what
    this checks, and would look for responses that these ids do not name)."""
    registry = pipeline._stored
    kept = registry.all()
    for name in kept:
        registry.unsubscribe(name)

    async def prompt(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        PROMPT_CALLS.append(response_id)
        if response_id in FAIL_ONCE:
            FAIL_ONCE.discard(response_id)
            raise RuntimeError(f"{response_id} failed")

    async def background(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        BACKGROUND_CALLS.append(response_id)

    subscribe("tests.prompt")(prompt)
    subscribe("tests.background", lane=BACKGROUND)(background)
    try:
        yield
    finally:
        registry.unsubscribe("tests.prompt")
        registry.unsubscribe("tests.background")
        for name, subscriber in kept.items():
            registry.subscribe(name)(subscriber)
        PROMPT_CALLS.clear()
        BACKGROUND_CALLS.clear()
        FAIL_ONCE.clear()


async def _stored(db: Database, response_ids: list[str]) -> list[str]:
    async with db.session(write=True) as session:
        ids = [
            enqueue(session, RESPONSE_STORED, {"response_id": rid, "tenant_id": "t1"}) for rid in response_ids
        ]
        await session.commit()
        take_enqueued(session)
    return ids


async def _jobs(db: Database) -> list[tuple[str, str, int, dict[str, Any]]]:
    async with db.session(write=False) as session:
        rows = (
            await session.execute(select(OutboxJob).order_by(OutboxJob.created_at, OutboxJob.id))
        ).scalars()
        return [(row.name, row.status, row.attempts, dict(row.payload)) for row in rows]


def _run(database_url: str, body: Any) -> Any:
    async def go() -> Any:
        db = Database(database_url)
        try:
            return await body(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_one_job_drains_its_lane_and_each_response_reaches_each_subscriber_once(
    database_url: str, only_recorders: None
) -> None:
    responses = [f"r{i}" for i in range(5)]

    async def body(db: Database) -> list[tuple[str, str, int, dict[str, Any]]]:
        ids = await _stored(db, responses)
        await run_job(db, ids[2])  # any of them: it takes the others along
        for job_id in ids:  # their own messages arrive later and find them done
            await run_job(db, job_id)
        return await _jobs(db)

    jobs = _run(database_url, body)
    assert sorted(PROMPT_CALLS) == responses and len(PROMPT_CALLS) == 5
    assert PROMPT_CALLS[0] == "r2"  # its own response first
    prompt = [(name, status, attempts) for name, status, attempts, _ in jobs if name == RESPONSE_STORED]
    assert prompt == [(RESPONSE_STORED, "done", 1)] * 5
    background = [
        (status, payload) for name, status, _, payload in jobs if name == RESPONSE_STORED_BACKGROUND
    ]
    # One background job for the drained batch, not yet run (no transport was given).
    assert len(background) == 1
    status, payload = background[0]
    assert status == "pending"
    assert payload["tenant_id"] == "t1" and sorted(payload["response_ids"]) == responses
    assert BACKGROUND_CALLS == []


def test_the_background_lane_runs_in_its_own_job_after_the_prompt_lane_commits(
    database_url: str, only_recorders: None
) -> None:
    async def body(db: Database) -> list[tuple[str, str, int, dict[str, Any]]]:
        (job_id,) = await _stored(db, ["r1"])
        transport = RecordingTransport()
        await run_job(db, job_id, transport)
        # The prompt lane's commit handed the background job to the broker.
        ((background_id, _eta),) = transport.sent
        await run_job(db, background_id)
        await run_job(db, background_id)  # a duplicate delivery does nothing
        return await _jobs(db)

    jobs = _run(database_url, body)
    assert PROMPT_CALLS == ["r1"]
    assert BACKGROUND_CALLS == ["r1"]
    assert [(name, status, attempts) for name, status, attempts, _ in jobs] == [
        (RESPONSE_STORED, "done", 1),
        (RESPONSE_STORED_BACKGROUND, "done", 1),
    ]


def test_a_drained_job_that_fails_is_left_out_and_runs_on_its_own(
    database_url: str, only_recorders: None
) -> None:
    FAIL_ONCE.add("r3")

    async def body(db: Database) -> tuple[Any, Any]:
        ids = await _stored(db, ["r0", "r1", "r2", "r3", "r4"])
        await run_job(db, ids[0])
        after_batch = await _jobs(db)
        await run_job(db, ids[3])  # its own message: now it works
        return after_batch, await _jobs(db)

    after_batch, after_all = _run(database_url, body)
    states = [(status, attempts) for name, status, attempts, _ in after_batch if name == RESPONSE_STORED]
    # The batch's savepoint was rolled back at r3, and the batch handed again without
    # r3's job; the others committed with it.
    assert states == [("done", 1), ("done", 1), ("done", 1), ("pending", 0), ("done", 1)]
    assert PROMPT_CALLS == ["r0", "r1", "r2", "r3", "r0", "r1", "r2", "r4", "r3"]
    assert [s for n, s, _, _ in after_all if n == RESPONSE_STORED] == ["done"] * 5
    background = [sorted(p["response_ids"]) for n, _, _, p in after_all if n == RESPONSE_STORED_BACKGROUND]
    assert background == [["r0", "r1", "r2", "r4"], ["r3"]]


def test_a_failure_before_the_commit_leaves_every_drained_job_to_run_again(
    database_url: str, only_recorders: None
) -> None:
    FAIL_ONCE.add("r0")  # the job's own response: the whole job fails

    async def body(db: Database) -> tuple[Any, Any]:
        ids = await _stored(db, ["r0", "r1", "r2"])
        with contextlib.suppress(RetryLater):
            await run_job(db, ids[0])
        after_failure = await _jobs(db)
        await run_job(db, ids[0])
        return after_failure, await _jobs(db)

    after_failure, after_retry = _run(database_url, body)
    assert [(n, s, a) for n, s, a, _ in after_failure] == [
        (RESPONSE_STORED, "dispatched", 1),
        (RESPONSE_STORED, "pending", 0),
        (RESPONSE_STORED, "pending", 0),
    ]
    assert PROMPT_CALLS == ["r0", "r0", "r1", "r2"]
    assert [(n, s) for n, s, _, _ in after_retry] == [
        (RESPONSE_STORED, "done"),
        (RESPONSE_STORED, "done"),
        (RESPONSE_STORED, "done"),
        (RESPONSE_STORED_BACKGROUND, "pending"),
    ]


BATCH_CALLS: list[list[str]] = []
BATCH_FAILS: set[str] = set()


@pytest.fixture
def with_batch_subscriber(only_recorders: None) -> Iterator[None]:
    """A set-based subscriber after the recording one: it raises while one of
    BATCH_FAILS is in the batch it was given."""

    async def body(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
        given = [response_id for response_id, _ in items]
        BATCH_CALLS.append(given)
        assert all(payload["response_id"] == rid for rid, payload in items)
        if BATCH_FAILS & set(given):
            raise RuntimeError("the set-based subscriber failed")

    subscribe_batch("tests.batch")(body)
    try:
        yield
    finally:
        pipeline._stored.unsubscribe("tests.batch")
        BATCH_CALLS.clear()
        BATCH_FAILS.clear()


def test_a_set_based_subscriber_gets_the_whole_drained_batch_in_one_call(
    database_url: str, with_batch_subscriber: None
) -> None:
    responses = [f"r{i}" for i in range(5)]

    async def body(db: Database) -> list[tuple[str, str, int, dict[str, Any]]]:
        ids = await _stored(db, responses)
        await run_job(db, ids[1])
        for job_id in ids:
            await run_job(db, job_id)
        return await _jobs(db)

    jobs = _run(database_url, body)
    # Its own response first, then the drained ones in the order they were queued.
    assert BATCH_CALLS == [["r1", "r0", "r2", "r3", "r4"]]
    assert PROMPT_CALLS == ["r1", "r0", "r2", "r3", "r4"]
    assert [(s, a) for n, s, a, _ in jobs if n == RESPONSE_STORED] == [("done", 1)] * 5


def test_a_failing_set_based_subscriber_hands_the_batch_again_one_job_at_a_time(
    database_url: str, with_batch_subscriber: None
) -> None:
    BATCH_FAILS.add("r2")  # fails every batch that holds r2: r2's job is left out

    async def body(db: Database) -> tuple[Any, Any]:
        ids = await _stored(db, ["r0", "r1", "r2", "r3"])
        await run_job(db, ids[0])
        after_batch = await _jobs(db)
        BATCH_FAILS.clear()
        await run_job(db, ids[2])  # its own message: now it works
        return after_batch, await _jobs(db)

    after_batch, after_all = _run(database_url, body)
    assert BATCH_CALLS == [["r0", "r1", "r2", "r3"], ["r0"], ["r1"], ["r2"], ["r3"], ["r2"]]
    states = [(status, attempts) for name, status, attempts, _ in after_batch if name == RESPONSE_STORED]
    assert states == [("done", 1), ("done", 1), ("pending", 0), ("done", 1)]
    # Every response reached the recording subscriber once in what committed.
    assert [s for n, s, _, _ in after_all if n == RESPONSE_STORED] == ["done"] * 4
    background = [sorted(p["response_ids"]) for n, _, _, p in after_all if n == RESPONSE_STORED_BACKGROUND]
    assert background == [["r0", "r1", "r3"], ["r2"]]


def test_a_set_based_subscriber_failing_on_the_jobs_own_response_fails_the_job(
    database_url: str, with_batch_subscriber: None
) -> None:
    BATCH_FAILS.add("r0")

    async def body(db: Database) -> Any:
        ids = await _stored(db, ["r0", "r1"])
        with contextlib.suppress(RetryLater):
            await run_job(db, ids[0])
        return await _jobs(db)

    jobs = _run(database_url, body)
    assert [(n, s, a) for n, s, a, _ in jobs] == [
        (RESPONSE_STORED, "dispatched", 1),
        (RESPONSE_STORED, "pending", 0),
    ]
    # Handed once together, then its own response alone, which failed the job.
    assert BATCH_CALLS == [["r0", "r1"], ["r0"]]


@job("tests.lanes.urgent", priority=PRIORITY_URGENT)
async def _urgent(session: AsyncSession, payload: dict[str, Any]) -> None:
    return None


@job("tests.lanes.bulk", priority=PRIORITY_BACKGROUND)
async def _bulk(session: AsyncSession, payload: dict[str, Any]) -> None:
    return None


@job("tests.lanes.plain")
async def _plain(session: AsyncSession, payload: dict[str, Any]) -> None:
    return None


def test_the_job_queue_hands_out_urgent_jobs_first(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        jobs_immediate=False,
        embedded_worker=False,
    )
    huey = make_huey(settings)  # the embedded SQLite queue

    async def body(db: Database) -> dict[str, str]:
        async with db.session(write=True) as session:
            names = {}
            for name in ("tests.lanes.bulk", "tests.lanes.plain", "tests.lanes.urgent", "tests.lanes.bulk"):
                names[enqueue(session, name, {})] = name
            await session.commit()
            ids = take_enqueued(session)
        await hand_off(db, HueyTransport(huey), ids)
        return names

    names = _run(database_url, body)
    order = []
    while (task := huey.dequeue()) is not None:
        order.append(names[task.args[0]])
    assert order == ["tests.lanes.urgent", "tests.lanes.plain", "tests.lanes.bulk", "tests.lanes.bulk"]
