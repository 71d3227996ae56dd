"""The embedded queue's writers take turns on a file lock instead of meeting in
SQLite's busy handler (worker/sqlite_queue.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cxloop.worker.sqlite_queue import TurnTakingSqliteStorage


def test_a_second_writer_waits_for_the_first_instead_of_failing_on_the_lock(tmp_path: Path) -> None:
    # Two storages stand for two processes: each has its own connection and its own lock file
    # description. The second's busy timeout is far shorter than the first's transaction, so
    # without the file lock its enqueue would fail with "database is locked".
    filename = str(tmp_path / "jobs.db")
    first = TurnTakingSqliteStorage("cxloop", filename=filename)
    second = TurnTakingSqliteStorage("cxloop", filename=filename, timeout=0.01)
    inside = threading.Event()

    def hold_a_write() -> None:
        with first.db(commit=True) as cursor:
            cursor.execute("insert into task (queue, data, priority) values ('cxloop', x'01', 0)")
            inside.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold_a_write)
    holder.start()
    assert inside.wait(5)
    started = time.monotonic()
    second.enqueue(b"\x02", 0)
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.2
    assert sorted(bytes(row[0]) for row in second.sql("select data from task", results=True)) == [
        b"\x01",
        b"\x02",
    ]
    # Commits do not wait for the disk: the queue only carries hints the relay can resend.
    assert second.sql("pragma synchronous", results=True) == [(1,)]
    first.close()
    second.close()
