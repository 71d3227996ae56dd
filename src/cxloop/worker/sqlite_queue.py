"""The embedded job queue: huey's SQLite storage, taking turns at its write lock.

Every web process and the worker write this one file (a hand-off per stored
response, a dequeue per job). Huey's storage serialises the threads of one
process, but two processes meet in SQLite's busy handler, which sleeps 1, 2,
5 ... up to 100 ms between tries, so under load a hand-off now and then waits
tens of milliseconds on a lock that was free after a fraction of one (the p99
of one-response submissions on SQLite, issue 3). Here a write transaction first
takes an ``flock`` on a file beside the queue, which the kernel grants in order
the moment it is released, as the main database's writers do
(``cxloop.kit.writelock``).

The queue only carries hints: a message lost with the last transactions before
a power cut is sent again by the relay from the outbox row. So commits do not
wait for the disk (``synchronous=NORMAL``: in WAL mode still safe from
corruption), as on the main database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from huey.storage import SqliteStorage

from cxloop.kit.writelock import holding_lock_file, open_lock_file


class TurnTakingSqliteStorage(SqliteStorage):  # type: ignore[misc]
    def __init__(self, *args: Any, create_tables: bool = True, **kwargs: Any) -> None:
        filename = kwargs.get("filename", "huey.db")
        self._turn_fd = open_lock_file(filename)
        weakref.finalize(self, os.close, self._turn_fd)
        super().__init__(*args, create_tables=False, **kwargs)
        # Re-entrant, so that a write can hold it around huey's own use of it.
        self.lock = threading.RLock()
        if create_tables:
            self.initialize_schema()

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn

    @contextlib.contextmanager
    def db(self, commit: bool = False, close: bool = False) -> Iterator[sqlite3.Cursor]:
        if not commit:
            with super().db(commit=commit, close=close) as cursor:
                yield cursor
            return
        # The process's threads queue on huey's own lock first, then one of them on the file.
        with self.lock, holding_lock_file(self._turn_fd), super().db(commit=commit, close=close) as cursor:
            yield cursor
