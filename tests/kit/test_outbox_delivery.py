"""Delivery guarantees of the outbox, below HTTP: retries with backoff, dead
jobs, idempotent execution under duplicate delivery, and the relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database
from cxloop.kit.jobs import (
    RetryLater,
    backoff,
    enqueue,
    enqueue_unless_queued,
    hand_off,
    outbox_stats,
    purge_finished,
    relay_once,
    run_job,
)
from cxloop.ops import Heartbeat
from cxloop.worker.jobs import load_job_handlers
from tests.factories import Org
from tests.worker.support import (
    RecordingTransport,
    calls,
    failures_left,
    outbox_row,
    outbox_rows,
    prepared_seen,
    set_times,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("reset_calls")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def reset_calls() -> None:
    load_job_handlers()
    calls.clear()
    failures_left.clear()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def committed(db: Database, name: str, key: str, **extra: object) -> str:
    async with db.session(write=True) as session:
        job_id = enqueue(session, name, {"key": key, **extra})
        await session.commit()
    return job_id


def test_backoff_doubles_from_five_seconds_up_to_half_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 10, 20)] == [5, 10, 20, 40, 1800, 1800]


async def test_a_job_that_fails_twice_is_retried_with_backoff_then_done(db: Database) -> None:
    failures_left["k"] = 2
    job_id = await committed(db, "tests.flaky", "k")

    delays = []
    for _ in range(2):
        before = utc_now()
        with pytest.raises(RetryLater) as retry:
            await run_job(db, job_id)
        delays.append(retry.value.delay)
        row = await outbox_row(db, job_id)
        assert row.status == "dispatched"
        assert before + retry.value.delay <= row.available_at <= utc_now() + retry.value.delay
    await run_job(db, job_id)

    assert delays == [timedelta(seconds=5), timedelta(seconds=10)]
    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts, calls["k"]) == ("done", 3, 3)
    assert row.finished_at is not None
    assert "boom, 0 failures to go" in (row.last_error or "")


async def test_a_job_gives_up_after_max_attempts_and_keeps_its_error(db: Database) -> None:
    job_id = await committed(db, "tests.always_fails", "dead")

    for _ in range(2):
        with pytest.raises(RetryLater):
            await run_job(db, job_id)
    await run_job(db, job_id)  # the last attempt: no retry any more
    await run_job(db, job_id)  # a late duplicate does nothing

    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts, calls["dead"]) == ("dead", 3, 3)
    assert row.finished_at is not None
    assert "ValueError: the remote end said no" in (row.last_error or "")


async def test_a_handler_may_ask_for_its_own_delay(db: Database) -> None:
    job_id = await committed(db, "tests.not_yet", "later")

    with pytest.raises(RetryLater) as retry:
        await run_job(db, job_id)
    await run_job(db, job_id)

    assert retry.value.delay == timedelta(seconds=1)
    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts) == ("done", 2)


async def test_a_failed_attempt_leaves_none_of_its_writes(db: Database, org: Org) -> None:
    from sqlalchemy import func, select

    job_id = await committed(
        db, "tests.writes_then_fails", "01HZZZZZZZZZZZZZZZZZZZZZZZ", tenant_id=org.tenant_id
    )

    await run_job(db, job_id)

    async with db.session(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(Heartbeat))).scalar_one() == 0
    row = await outbox_row(db, job_id)
    assert row.status == "dead"
    assert "RuntimeError: after writing" in (row.last_error or "")


async def test_duplicate_delivery_runs_the_handler_once(db: Database, database_url: str) -> None:
    job_id = await committed(db, "tests.count", "dup")

    await run_job(db, job_id)
    await run_job(db, job_id)

    assert calls["dup"] == 1
    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts) == ("done", 1)


async def test_concurrent_duplicate_deliveries_run_the_handler_once(database_url: str) -> None:
    # Two "workers" with their own engines receive the same job at the same time.
    first, second = Database(database_url), Database(database_url)
    try:
        job_id = await committed(first, "tests.count", "race", sleep=0.3)
        await asyncio.gather(run_job(first, job_id), run_job(second, job_id))
        assert calls["race"] == 1
        assert (await outbox_row(first, job_id)).attempts == 1
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_job_without_a_handler_is_dead(db: Database) -> None:
    job_id = await committed(db, "tests.count", "ghost")
    await set_times(db, job_id, name="tests.removed_long_ago")

    await run_job(db, job_id)

    row = await outbox_row(db, job_id)
    assert (row.status, row.last_error) == ("dead", "no handler is registered for 'tests.removed_long_ago'")


async def test_enqueue_refuses_unknown_jobs(db: Database) -> None:
    async with db.session(write=True) as session:
        with pytest.raises(LookupError):
            enqueue(session, "tests.nope", {})


# --- hand-off and relay ------------------------------------------------------


async def test_hand_off_marks_sent_jobs_and_leaves_failed_ones_to_the_relay(db: Database) -> None:
    sent_id = await committed(db, "tests.count", "a")
    lost_id = await committed(db, "tests.count", "b")
    transport = RecordingTransport(fail_on={lost_id})

    await hand_off(db, transport, [sent_id, lost_id])

    assert transport.sent == [(sent_id, None)]
    assert (await outbox_row(db, sent_id)).status == "dispatched"
    assert (await outbox_row(db, lost_id)).status == "pending"


async def test_relay_sends_old_pending_and_stale_dispatched_jobs_only(db: Database) -> None:
    now = utc_now()
    fresh = await committed(db, "tests.count", "fresh")
    orphan = await committed(db, "tests.count", "orphan")
    delayed = await committed(db, "tests.count", "delayed")
    lost = await committed(db, "tests.count", "lost")
    in_flight = await committed(db, "tests.count", "in-flight")
    retry_waiting = await committed(db, "tests.count", "retry-waiting")
    finished = await committed(db, "tests.count", "finished")
    await set_times(db, orphan, created_at=now - timedelta(seconds=6))
    await set_times(db, delayed, created_at=now - timedelta(seconds=6), available_at=now + timedelta(hours=1))
    await set_times(
        db,
        lost,
        status="dispatched",
        dispatched_at=now - timedelta(minutes=11),
        available_at=now - timedelta(minutes=11),
    )
    await set_times(
        db,
        in_flight,
        status="dispatched",
        dispatched_at=now - timedelta(seconds=30),
        available_at=now - timedelta(seconds=30),
    )
    # Dispatched long ago but its retry is not due yet: the broker holds it.
    await set_times(
        db,
        retry_waiting,
        status="dispatched",
        dispatched_at=now - timedelta(minutes=30),
        available_at=now + timedelta(minutes=1),
    )
    await set_times(db, finished, status="done", created_at=now - timedelta(hours=1))
    transport = RecordingTransport()

    sent = await relay_once(db, transport)

    assert sent == 3
    assert sorted(job_id for job_id, _eta in transport.sent) == sorted([orphan, delayed, lost])
    etas = dict(transport.sent)
    assert etas[orphan] is None and etas[lost] is None
    assert etas[delayed] == now + timedelta(hours=1)
    statuses = {row.id: row.status for row in await outbox_rows(db)}
    assert statuses == {
        fresh: "pending",
        orphan: "dispatched",
        delayed: "dispatched",
        lost: "dispatched",
        in_flight: "dispatched",
        retry_waiting: "dispatched",
        finished: "done",
    }
    assert (await outbox_row(db, lost)).dispatched_at > now  # type: ignore[operator]
    assert await relay_once(db, transport) == 0  # nothing is sent twice


async def test_relay_puts_back_what_it_could_not_send(db: Database) -> None:
    old = utc_now() - timedelta(seconds=10)
    first = await committed(db, "tests.count", "1")
    second = await committed(db, "tests.count", "2")
    await set_times(db, first, created_at=old)
    await set_times(db, second, created_at=old)
    down = RecordingTransport(fail_on={first, second})

    assert await relay_once(db, down) == 0
    assert [(r.status, r.dispatched_at) for r in await outbox_rows(db)] == [("pending", None)] * 2

    up = RecordingTransport()
    assert await relay_once(db, up) == 2
    assert {job_id for job_id, _ in up.sent} == {first, second}


async def test_relay_with_an_inline_transport_runs_orphans_once(db: Database) -> None:
    from cxloop.worker import InlineTransport

    orphan = await committed(db, "tests.count", "orphan")
    await set_times(db, orphan, created_at=utc_now() - timedelta(seconds=6))

    assert await relay_once(db, InlineTransport(db)) == 1
    assert await relay_once(db, InlineTransport(db)) == 0
    assert calls["orphan"] == 1
    assert (await outbox_row(db, orphan)).status == "done"


async def test_periodic_jobs_are_queued_one_at_a_time(db: Database) -> None:
    transport = RecordingTransport()

    first = await enqueue_unless_queued(db, transport, "ops.housekeeping")
    second = await enqueue_unless_queued(db, transport, "ops.housekeeping")
    await run_job(db, first)  # type: ignore[arg-type]
    third = await enqueue_unless_queued(db, transport, "ops.housekeeping")

    assert first is not None and second is None and third not in (None, first)
    assert [job_id for job_id, _ in transport.sent] == [first, third]


async def test_stats_and_purge_of_finished_jobs(db: Database) -> None:
    now = utc_now()
    done_old = await committed(db, "tests.count", "done-old")
    done_new = await committed(db, "tests.count", "done-new")
    dead_old = await committed(db, "tests.count", "dead-old")
    dead_new = await committed(db, "tests.count", "dead-new")
    pending = await committed(db, "tests.count", "pending")
    await set_times(db, done_old, status="done", finished_at=now - timedelta(days=8))
    await set_times(db, done_new, status="done", finished_at=now - timedelta(days=6))
    await set_times(db, dead_old, status="dead", finished_at=now - timedelta(days=31))
    await set_times(db, dead_new, status="dead", finished_at=now - timedelta(days=8))

    async with db.session(write=False) as session:
        stats = await outbox_stats(session)
    assert stats.counts == {"pending": 1, "dispatched": 0, "done": 2, "dead": 2}
    async with db.session(write=True) as session:
        assert await purge_finished(session) == 2
        await session.commit()

    assert sorted(r.id for r in await outbox_rows(db)) == sorted([done_new, dead_new, pending])


async def test_housekeeping_purges_what_has_expired(db: Database, org: Org) -> None:
    from sqlalchemy import select

    from cxloop.identity import UserSession
    from cxloop.identity.models import LoginAttempt
    from cxloop.kit.idempotency import IdempotencyKey

    now = utc_now()
    async with db.session(write=True) as session:
        for age, suffix in ((timedelta(days=2), "old"), (timedelta(minutes=5), "new")):
            session.add(
                IdempotencyKey(
                    id=f"key-{suffix}", owner="o", key=suffix, request_hash="h", created_at=now - age
                )
            )
            session.add(
                LoginAttempt(id=f"attempt-{suffix}", email_digest="d", ip="127.0.0.1", attempted_at=now - age)
            )
            session.add(
                UserSession(
                    id=f"session-{suffix}",
                    user_id=org.user_ids["cx"],
                    created_at=now - age,
                    expires_at=now - age + timedelta(days=1),
                )
            )
        await session.commit()
    job_id = await enqueue_unless_queued(db, RecordingTransport(), "ops.housekeeping")

    await run_job(db, job_id)  # type: ignore[arg-type]

    async with db.session(write=False) as session:
        assert list((await session.execute(select(IdempotencyKey.id))).scalars()) == ["key-new"]
        assert list((await session.execute(select(LoginAttempt.id))).scalars()) == ["attempt-new"]
        assert list((await session.execute(select(UserSession.id))).scalars()) == ["session-new"]
    assert (await outbox_row(db, job_id)).status == "done"  # type: ignore[arg-type]


async def test_a_preparer_reads_before_the_write_transaction_and_hands_its_result_to_the_handler(
    db: Database, database_url: str
) -> None:
    job_id = await committed(db, "tests.prepared", "p", n=21, database_url=database_url)

    await asyncio.wait_for(run_job(db, job_id), timeout=30)

    assert calls["p"] == 1
    assert prepared_seen["p"] == {"doubled": 42}
    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts) == ("done", 1)


async def test_a_failing_preparer_fails_the_job_without_running_the_handler(db: Database) -> None:
    job_id = await committed(db, "tests.prepared", "f", n=1, fail=True)

    with pytest.raises(RetryLater):
        await run_job(db, job_id)

    assert calls["f"] == 0
    row = await outbox_row(db, job_id)
    assert (row.status, row.attempts) == ("dispatched", 1)
    assert "LookupError: could not read what the job needs" in (row.last_error or "")
