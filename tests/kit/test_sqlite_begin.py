"""SQLite transactions are begun by us (kit/db): a write session holds the write lock from
its first statement, a read session takes none, and a lock that cannot be had is the
SQLAlchemy OperationalError the request boundary answers with 503. With aiosqlite the
BEGIN is one call on its thread instead of a cursor's three."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from cxloop.kit.db import Database

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    database = Database(database_url)
    yield database
    await database.dispose()


def _other_writer(database: Database) -> sqlite3.Connection:
    other = sqlite3.connect(make_url(database.url).database or "", timeout=0, isolation_level=None)
    return other


async def test_a_write_session_holds_the_write_lock_until_it_ends(db: Database) -> None:
    other = _other_writer(db)
    try:
        async with db.session(write=True) as session:
            await session.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            await session.commit()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        async with db.session(write=False) as session:
            await session.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")  # a reader takes no write lock
            other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_lock_that_cannot_be_had_is_sqlalchemys_operational_error(db: Database) -> None:
    async with db.session(write=False) as session:
        # The only pooled connection, which the write session below gets again: no 30 s wait.
        await session.execute(text("PRAGMA busy_timeout=0"))
    other = _other_writer(db)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with db.session(write=True) as session:
            with pytest.raises(OperationalError, match="locked"):
                await session.execute(text("SELECT 1"))
    finally:
        other.execute("ROLLBACK")
        other.close()
