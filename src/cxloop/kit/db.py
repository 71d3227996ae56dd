"""Database plumbing shared by every domain: the declarative base, portable
column types, engines tuned per backend, and read/write sessions.

SQLite is the embedded default. Its pysqlite transaction handling is turned
off so that we emit BEGIN ourselves: writers say ``BEGIN IMMEDIATE`` and take
the write lock up front, which turns "database is locked" failures of
read-then-write transactions into short waits (see docs/adr/0003).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

from cxloop.kit.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def IdColumnType() -> String:
    return String(26)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the
    way out keeps comparisons and ISO output identical to PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


def async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    return url


def sync_url(url: str) -> str:
    return url.replace("sqlite+aiosqlite:", "sqlite:")


# ``sqlite_begin`` for a connection whose user sends BEGIN itself, together with
# its statements and COMMIT in one call on aiosqlite's thread (collection's
# one-response submission): SQLAlchemy then only tracks the transaction.
CALLER_BEGINS = "CALLER"


def _tune_sqlite(engine: Any) -> None:
    """Pragmas per connection, and BEGIN emitted by us (deferred or immediate)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == CALLER_BEGINS:
            return
        statement = f"BEGIN {mode}"
        driver = connection.connection.driver_connection
        run_on_thread = getattr(driver, "_execute", None)
        if run_on_thread is None:
            connection.exec_driver_sql(statement)
            return
        # aiosqlite: one call on its thread, instead of three (open a cursor,
        # execute, close it), while a writer holds the write turn (ADR 0031).
        try:
            await_(run_on_thread(driver._conn.execute, statement))
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
        _tune_sqlite(engine.sync_engine)
        return engine
    # As many connections at most as before (10 kept + 10 overflow), but all kept:
    # overflow connections are closed on return, so every burst above 10 started
    # PostgreSQL backends anew. Paired on a quiet machine (bench/ingest.py, docs/
    # benchmarks.md): 496 -> 813 submissions/s, p99 at 500/s 2.9 s -> 210 ms.
    # Connections are still opened only on demand.
    return create_async_engine(url, echo=echo, pool_size=2 * pool_size, max_overflow=0, pool_pre_ping=True)


def tune_sync_engine(engine: Any) -> None:
    """Apply the SQLite tuning to a synchronous engine (Alembic, tools)."""
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)


class Database:
    """One engine per event loop; read sessions and write sessions.

    A write session on SQLite begins IMMEDIATE; on PostgreSQL both are the
    same READ COMMITTED transaction.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.dialect = self.engine.dialect.name
        write_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._write = async_sessionmaker(write_bind, expire_on_commit=False, autoflush=True)

    def new_session(self, *, write: bool) -> AsyncSession:
        """A session the caller closes; creating it costs no I/O."""
        session = (self._write if write else self._read)()
        session.info["write"] = write
        return session

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        async with self.new_session(write=write) as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
