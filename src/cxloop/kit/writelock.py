"""Taking turns at SQLite's single write lock, fairly and without polling.

SQLite lets one writer in at a time and makes the others wait in its busy
handler, which sleeps 1, 2, 5 ... up to 100 ms between tries. Under load
the waiters lose the race again and again to whoever just released the
lock, so throughput collapses and the slowest requests wait seconds.
Writers that take a turn here first queue in order instead: within a
process behind an ``asyncio.Lock``, across the processes that share the
database file behind an ``flock`` on a file beside it, which the kernel
grants the moment it is released. Measured with bench/ingest.py, 32
concurrent submissions to 2 web processes: 77 and 104 requests/s without
turns, 118 and 122 with them, in alternating runs.

Only writers that opt in take turns (the request boundary, the hand-off's
bookkeeping); any other writer still falls back to SQLite's busy timeout.
PostgreSQL has row locks and needs none of this: ``write_turn`` returns
``None`` there.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.kit.db import Database


def open_lock_file(path: str) -> int:
    """The file whose ``flock`` is the write turn of the SQLite file at ``path``."""
    return os.open(f"{path}-write.lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def holding_lock_file(fd: int) -> Iterator[None]:
    """The turn across processes, for a thread that may block (not the event loop)."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class WriteTurn:
    """One writer at a time for one SQLite database, in this process and across processes."""

    def __init__(self, path: str | None) -> None:
        self._lock = asyncio.Lock()
        self._fd: int | None = None
        if path is not None:
            self._fd = open_lock_file(path)

    async def acquire(self) -> None:
        await self._lock.acquire()
        try:
            await self._acquire_file()
        except BaseException:
            self._lock.release()
            raise

    async def _acquire_file(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        # Another process writes: wait for the kernel in a thread, not in the event loop.
        waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread will get the lock anyway: give it back once it has.
            await asyncio.wait([waiting])
            if not waiting.cancelled() and waiting.exception() is None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            raise

    def release(self) -> None:
        self.release_file()
        self._lock.release()

    def release_file(self) -> None:
        """Let other processes write now; this process's writers wait for ``release``.

        Safe from any thread, and again in ``release``: unlocking a lock this file
        description no longer holds does nothing, and no other writer of this
        process can have taken it meanwhile (they wait on the in-process lock)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_turns: weakref.WeakKeyDictionary[Database, WriteTurn] = weakref.WeakKeyDictionary()


def _sqlite_path(db: Database) -> str | None:
    database = make_url(db.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)


def write_turn(db: Database) -> WriteTurn | None:
    """The turn writers of ``db`` share, or None where the database needs none."""
    if db.dialect != "sqlite":
        return None
    turn = _turns.get(db)
    if turn is None:
        turn = WriteTurn(_sqlite_path(db))
        weakref.finalize(db, turn.close)
        _turns[db] = turn
    return turn


_HELD = "cxloop_write_turn"


def hold(session: AsyncSession, turn: WriteTurn, end: Callable[[], None]) -> None:
    """Record that ``session``'s writer holds ``turn``, and how its holder ends it."""
    session.info[_HELD] = (turn, end)


def held_turn(session: AsyncSession) -> WriteTurn | None:
    """The turn ``session``'s writer holds (the request boundary's), if any."""
    held: tuple[WriteTurn, Callable[[], None]] | None = session.info.get(_HELD)
    return held[0] if held is not None else None


def forget_held(session: AsyncSession) -> None:
    session.info.pop(_HELD, None)


def end_held_turn(session: AsyncSession) -> None:
    """End the turn early, once what needed it is committed; the holder's own end is then a no-op."""
    held: tuple[WriteTurn, Callable[[], None]] | None = session.info.pop(_HELD, None)
    if held is not None:
        held[1]()


@asynccontextmanager
async def taking_turn(db: Database) -> AsyncIterator[None]:
    turn = write_turn(db)
    if turn is None:
        yield
        return
    async with turn.held():
        yield
