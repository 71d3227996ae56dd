"""``cxloop worker`` refuses to start on a database it cannot use."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.worker.procs import CXLOOP, cxloop_env


def test_worker_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    env = cxloop_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "data")

    result = subprocess.run(
        [CXLOOP, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1
    assert "the database schema is not up to date; run `cxloop db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_reports_an_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none"
    env = cxloop_env(url, tmp_path / "data")

    result = subprocess.run(
        [CXLOOP, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot use the database:"), result.stderr
    assert "Traceback" not in result.stderr


def _closed_port() -> int:
    from tests.worker.procs import free_port

    return free_port()  # nothing listens there once the probe socket is closed
