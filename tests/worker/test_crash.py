"""The crash tests the issue asks for: a process that dies between commit and
dispatch loses no job (a real ``cxloop worker`` runs it exactly once), and a
process that dies before its commit leaves no job at all."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cxloop.kit.db import Database
from cxloop.kit.jobs import OutboxJob, relay_once
from cxloop.ops import Heartbeat
from tests.factories import Org
from tests.worker.procs import CXLOOP, cxloop_env, start, stop, wait_for
from tests.worker.support import RecordingTransport

pytestmark = pytest.mark.slow

CRASH_WRITER = str(Path(__file__).with_name("crash_writer.py"))


def snapshot(database_url: str) -> tuple[list[OutboxJob], list[Heartbeat]]:
    async def read() -> tuple[list[OutboxJob], list[Heartbeat]]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                jobs = list((await session.execute(select(OutboxJob))).scalars())
                beats = list((await session.execute(select(Heartbeat))).scalars())
                return jobs, beats
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_job_committed_by_a_process_that_died_before_hand_off_runs_exactly_once(
    org: Org, database_url: str, tmp_path: Path
) -> None:
    env = cxloop_env(database_url, tmp_path / "data")
    writer = subprocess.run(
        [sys.executable, CRASH_WRITER, "after-commit", org.tokens["admin"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert writer.returncode == 1, writer.stdout + writer.stderr
    jobs, beats = snapshot(database_url)
    assert [(j.name, j.status, j.attempts) for j in jobs] == [("ops.heartbeat", "pending", 0)]
    assert f"committed job {jobs[0].id}" in writer.stdout
    assert [(b.runs, b.completed_at) for b in beats] == [(0, None)]
    job_id, heartbeat_id = jobs[0].id, beats[0].id

    log = tmp_path / "worker.log"
    worker = start([CXLOOP, "worker", "--threads", "2"], env, log)
    try:

        def done() -> Any:
            jobs, beats = snapshot(database_url)
            heartbeat_job = next(j for j in jobs if j.id == job_id)
            return beats[0] if heartbeat_job.status == "done" else None

        beat = wait_for(done, timeout=45, what="the worker's relay to find and run the orphaned job")
        assert beat.runs == 1
        assert beat.completed_by is not None and beat.completed_by.endswith(f":{worker.pid}")
        # Another relay pass or two must not run it again.
        asyncio.run(asyncio.sleep(4.5))
        jobs, beats = snapshot(database_url)
        assert [(b.id, b.runs) for b in beats] == [(heartbeat_id, 1)]
        assert [(j.status, j.attempts, j.last_error) for j in jobs if j.id == job_id] == [("done", 1, None)]
    finally:
        exit_code = stop(worker)
    output = log.read_text()
    assert exit_code == 0, output
    assert f"relay sent job {job_id}" in output
    assert f"job {job_id} (ops.heartbeat) done on attempt 1" in output
    assert "stopping" in output
    # Logs name jobs, never what is inside them.
    assert heartbeat_id not in output


def test_a_process_killed_before_its_commit_leaves_no_job(
    org: Org, database_url: str, tmp_path: Path
) -> None:
    env = cxloop_env(database_url, tmp_path / "data")
    writer = subprocess.Popen(
        [sys.executable, CRASH_WRITER, "before-commit", org.tenant_id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "flushed", writer.stderr.read() if writer.stderr else ""
        writer.kill()
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()

    async def relay_everything() -> int:
        db = Database(database_url)
        try:
            from datetime import timedelta

            return await relay_once(db, RecordingTransport(), grace=timedelta(0))
        finally:
            await db.dispose()

    assert writer.returncode == -9
    assert snapshot(database_url) == ([], [])
    assert asyncio.run(relay_everything()) == 0
