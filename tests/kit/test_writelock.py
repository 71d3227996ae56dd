"""SQLite writers take turns: in order, across processes (here: two engines on one file), and a
cancelled wait never leaves the file locked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cxloop.kit.db import Database
from cxloop.kit.writelock import write_turn

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def two(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first, second = Database(database_url), Database(database_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_postgresql_needs_no_turns(two: tuple[Database, Database]) -> None:
    db, _ = two
    if db.dialect == "sqlite":
        assert write_turn(db) is write_turn(db)
    else:
        assert write_turn(db) is None


async def test_a_writer_of_another_engine_waits_for_the_turn_and_gets_it_on_release(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    if first.dialect != "sqlite":
        pytest.skip("SQLite only")
    mine, theirs = write_turn(first), write_turn(second)
    assert mine is not None and theirs is not None
    await mine.acquire()
    waiting = asyncio.ensure_future(theirs.acquire())
    await asyncio.sleep(0.2)
    assert not waiting.done()

    mine.release()
    await asyncio.wait_for(waiting, 5)
    theirs.release()


async def test_in_one_process_writers_queue_in_order(two: tuple[Database, Database]) -> None:
    db, _ = two
    turn = write_turn(db)
    if turn is None:
        pytest.skip("SQLite only")
    order: list[int] = []

    async def writer(number: int) -> None:
        async with turn.held():
            order.append(number)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(writer(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_a_cancelled_wait_leaves_the_file_unlocked(two: tuple[Database, Database]) -> None:
    first, second = two
    mine, theirs = write_turn(first), write_turn(second)
    if mine is None or theirs is None:
        pytest.skip("SQLite only")
    await mine.acquire()
    waiting = asyncio.ensure_future(theirs.acquire())
    await asyncio.sleep(0.1)
    waiting.cancel()
    mine.release()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    # Neither the thread that was waiting nor the cancelled writer kept the lock.
    await asyncio.wait_for(mine.acquire(), 5)
    mine.release()
    await asyncio.wait_for(theirs.acquire(), 5)
    theirs.release()
