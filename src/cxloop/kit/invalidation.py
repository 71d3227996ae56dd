"""Telling a process, cheaply and promptly, that state it caches has changed.

Web processes cache things that rarely change but are needed on every
request (verified principals). A watcher turns "has anything I cache
changed?" into a local check:

* SQLite: ``PRAGMA data_version`` on a private connection changes whenever
  any other connection, in any process, commits. Only then is the watched
  query (a few integers) re-read, still on that private connection, in
  microseconds; the generation moves only if its result differs.
* PostgreSQL: writers (database triggers) ``NOTIFY`` a channel inside their
  transaction, so the notice is delivered on commit; a listener task moves the generation. While
  the listener is down the watcher reports "unknown" and callers fall back to
  asking the database on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("cxloop.invalidation")

UNKNOWN = -1


class ChangeWatcher:
    def __init__(self, database_url: str, *, channel: str, sqlite_query: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self.sqlite_query = sqlite_query
        self.dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        self._generation = 0
        self._sqlite: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._snapshot: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._unknown = itertools.count(start=2)

    async def start(self) -> None:
        if self.dialect == "sqlite":
            path = make_url(self.database_url).database or ""
            self._sqlite = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._sqlite.execute("PRAGMA busy_timeout=5000")
            self.generation()
        else:
            self._listener = asyncio.create_task(self._listen(), name="cxloop-change-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    def generation(self) -> int:
        """The current generation, or a negative never-repeating value for "unknown"."""
        if self.dialect == "sqlite":
            return self._sqlite_generation()
        if not self._listening:
            return -next(self._unknown)
        return self._generation

    def _sqlite_generation(self) -> int:
        if self._sqlite is None:
            return -next(self._unknown)
        try:
            version = self._sqlite.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                snapshot = self._sqlite.execute(self.sqlite_query).fetchall()
                self._data_version = version
                if snapshot != self._snapshot:
                    self._snapshot = snapshot
                    self._generation += 1
        except sqlite3.Error:
            log.warning("change check failed; treating caches as stale", exc_info=True)
            return -next(self._unknown)
        return self._generation

    async def _listen(self) -> None:
        import psycopg

        url = make_url(self.database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f'LISTEN "{self.channel}"')
                    # Anything may have changed while nobody listened.
                    self._generation += 1
                    self._listening = True
                    async for _notice in conn.notifies():
                        self._generation += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("change listener lost its connection; retrying", exc_info=True)
            finally:
                self._listening = False
            await asyncio.sleep(1.0)
