"""The hand-off after a commit: what it costs (statements) and what it still guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from cxloop.kit import jobs
from cxloop.kit.db import Database
from cxloop.kit.jobs import enqueue, forget_enqueued, hand_off, take_enqueued
from cxloop.worker.jobs import load_job_handlers
from tests.worker.support import RecordingTransport, outbox_row, outbox_rows

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    load_job_handlers()
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "outbox_jobs" in statement:
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def committed(db: Database, key: str, *, delay: timedelta | None = None) -> str:
    async with db.session(write=True) as session:
        job_id = enqueue(session, "tests.count", {"key": key}, delay=delay)
        await session.commit()
        take_enqueued(session)
    return job_id


async def test_jobs_enqueued_here_are_sent_without_reading_them_back(
    db: Database, statements: list[str]
) -> None:
    now_id = await committed(db, "now")
    later_id = await committed(db, "later", delay=timedelta(minutes=5))
    statements.clear()
    transport = RecordingTransport()

    await hand_off(db, transport, [now_id, later_id])

    assert statements == ["UPDATE"]
    assert [job_id for job_id, _ in transport.sent] == [now_id, later_id]
    now_eta, later_eta = (eta for _, eta in transport.sent)
    assert now_eta is None
    assert later_eta == (await outbox_row(db, later_id)).available_at
    assert [row.status for row in await outbox_rows(db)] == ["dispatched", "dispatched"]


async def test_an_id_this_process_did_not_enqueue_is_looked_up_and_a_missing_one_not_sent(
    db: Database, statements: list[str]
) -> None:
    async with db.session(write=True) as session:
        gone = enqueue(session, "tests.count", {"key": "rolled back"})
        await session.rollback()
        forget_enqueued(session)
    elsewhere = await committed(db, "elsewhere")
    jobs._due.pop(elsewhere)  # as if another process had committed it
    statements.clear()
    transport = RecordingTransport()

    await hand_off(db, transport, [gone, elsewhere])

    assert statements == ["SELECT", "UPDATE"]
    assert transport.sent == [(elsewhere, None)]
    assert [(row.id, row.status) for row in await outbox_rows(db)] == [(elsewhere, "dispatched")]


async def test_concurrent_hand_offs_share_updates_and_each_returns_with_its_jobs_dispatched(
    db: Database, statements: list[str]
) -> None:
    ids = [await committed(db, f"k{i}") for i in range(5)]
    statements.clear()
    transport = RecordingTransport()

    await asyncio.gather(*(hand_off(db, transport, [job_id]) for job_id in ids))

    # The first marks its own job; the others queue behind it and the next marks all of theirs.
    assert statements == ["UPDATE", "UPDATE"]
    assert sorted(job_id for job_id, _ in transport.sent) == sorted(ids)
    assert [row.status for row in await outbox_rows(db)] == ["dispatched"] * 5


async def test_the_request_boundary_marks_later_with_one_update_for_many_hand_offs(
    db: Database, statements: list[str]
) -> None:
    ids = [await committed(db, f"later{i}") for i in range(4)]
    statements.clear()
    transport = RecordingTransport()

    for job_id in ids:
        await hand_off(db, transport, [job_id], mark_later=True)

    assert [job_id for job_id, _ in transport.sent] == ids
    assert statements == []  # sent, not yet marked: the requests did not wait for it
    await asyncio.sleep(jobs.MARK_DELAY * 4)
    assert statements == ["UPDATE"]
    assert [row.status for row in await outbox_rows(db)] == ["dispatched"] * 4
