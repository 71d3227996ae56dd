"""Scale-out: two ``cxloop serve`` processes and one ``cxloop worker`` share
PostgreSQL and Redis; a job enqueued by either web process runs exactly once,
in the worker."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import PG_URL
from tests.factories import Org
from tests.worker.procs import CXLOOP, cxloop_env, free_port, start, stop, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL.startswith("postgresql"),
        reason="scale-out needs a shared server database: set CXLOOP_TEST_DATABASE_URL to PostgreSQL "
        "(several processes on one SQLite file is the embedded mode, not scale-out)",
    ),
]

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database no other test or install uses
HEARTBEATS_PER_WEB = 20


@pytest.fixture
def clean_redis() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError:
        pytest.fail("the scale-out test needs Redis on 127.0.0.1:6379")
    finally:
        client.close()
    return REDIS_URL


def test_jobs_from_two_web_processes_run_exactly_once_in_the_worker(
    org: Org, database_url: str, tmp_path: Path, clean_redis: str
) -> None:
    env = cxloop_env(database_url, tmp_path / "data", redis_url=clean_redis, embedded_worker="false")
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    logs = {name: tmp_path / f"{name}.log" for name in ("web-1", "web-2", "worker")}
    try:
        for name, port in zip(("web-1", "web-2"), ports, strict=True):
            processes.append(start([CXLOOP, "serve", "--port", str(port)], env, logs[name]))
        worker = start([CXLOOP, "worker", "--threads", "2"], env, logs["worker"])
        processes.append(worker)
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        headers = org.auth("admin")
        with httpx.Client(timeout=10) as http:

            def healthy() -> bool:
                try:
                    return all(http.get(f"{base}/healthz").status_code == 200 for base in bases)
                except httpx.TransportError:
                    return False

            wait_for(healthy, timeout=30, what="both web processes to answer /healthz")

            requested: dict[str, str] = {}
            for index in range(2 * HEARTBEATS_PER_WEB):
                base = bases[index % 2]
                response = http.post(f"{base}/api/v1/system/heartbeats", headers=headers)
                assert response.status_code == 201, response.text
                requested[response.json()["id"]] = base

            def all_completed() -> list[dict[str, object]] | None:
                beats = []
                for beat_id, base in requested.items():
                    beat = http.get(f"{base}/api/v1/system/heartbeats/{beat_id}", headers=headers).json()
                    if beat["completed_at"] is None:
                        return None
                    beats.append(beat)
                return beats

            beats = wait_for(
                all_completed, timeout=60, what="the worker to complete 40 heartbeats", every=0.5
            )
            queue = http.get(f"{bases[0]}/api/v1/system/jobs", headers=headers).json()

        assert len(beats) == 2 * HEARTBEATS_PER_WEB
        assert {b["runs"] for b in beats} == {1}
        assert {b["completed_by"] for b in beats} == {f"{socket.gethostname()}:{worker.pid}"}
        assert queue["counts"]["pending"] == 0
        assert queue["counts"]["dead"] == 0
        # 40 heartbeats, plus the housekeeping job the worker starts.
        assert queue["counts"]["done"] >= 2 * HEARTBEATS_PER_WEB
        assert [p.poll() for p in processes] == [None, None, None], "a process died during the test"
    finally:
        codes = [stop(process) for process in processes]
    output = {name: log.read_text() for name, log in logs.items()}
    # uvicorn shuts down gracefully, then re-raises SIGTERM on itself as Unix expects.
    assert codes[:2] in ([0, 0], [-15, -15], [0, -15], [-15, 0]), output
    assert all("Application shutdown complete" in output[name] for name in ("web-1", "web-2")), output
    assert codes[2] == 0, output["worker"]
    assert "stopping" in output["worker"]
    # Each web process handed its jobs to Redis itself; the relay had nothing to repair.
    assert "relay sent job" not in output["worker"]
