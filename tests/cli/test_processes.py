"""The installed ``cxloop`` command as a real process: exit codes, stdout
versus stderr, and the demo serving web + worker from one process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import SECRET_KEY, Cli

CXLOOP = str(Path(sys.executable).parent / "cxloop")


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.update(
        CXLOOP_DATABASE_URL=database_url,
        CXLOOP_DATA_DIR=str(tmp_path / "data"),
        CXLOOP_SECRET_KEY=SECRET_KEY,
        **extra,
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CXLOOP, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_token_and_refusal_as_processes(empty_cli: Cli, empty_database_url: str, tmp_path: Path) -> None:
    """A real process: the token alone on stdout, messages on stderr, exit codes."""
    empty_cli.ok("db", "upgrade")
    empty_cli.ok("units", "create", "--code", "HQ", "--name", "总部")
    empty_cli.ok("users", "create", "--email", "boss@example.com", "--role", "admin", "--no-password")
    env = _env(empty_database_url, tmp_path)
    token = _run(env, "tokens", "create", "--email", "boss@example.com")
    assert token.returncode == 0
    assert token.stdout.count("\n") == 1
    assert token.stdout.startswith("cxl_")
    assert "shown only this once" in token.stderr
    refused = _run(env, "units", "create", "--code", "HQ", "--name", "again")
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        1,
        "",
        "error: A unit with code 'HQ' already exists.\n",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_web_and_worker_in_one_process(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(database_url, tmp_path)
    server = subprocess.Popen(
        [
            CXLOOP,
            "demo",
            "--port",
            str(port),
            "--responses",
            "200",
            "--data-dir",
            str(tmp_path / "demo-data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not come up within 60 s"
            time.sleep(0.3)
        token = _run(env, "tokens", "create", "--email", "store.sh001@freshneighbour.example").stdout.strip()
        units = httpx.get(f"{base}/api/v1/units", headers=bearer(token), timeout=10)
        assert units.status_code == 200, units.text
        assert [u["code"] for u in units.json()["items"]] == ["SH001"]
        admin = _run(env, "tokens", "create", "--email", "admin@freshneighbour.example").stdout.strip()
        beat = httpx.post(f"{base}/api/v1/system/heartbeats", headers=bearer(admin), timeout=10)
        assert beat.status_code == 201, beat.text
        while (
            done := httpx.get(
                f"{base}/api/v1/system/heartbeats/{beat.json()['id']}", headers=bearer(admin), timeout=10
            ).json()
        )["completed_at"] is None:
            assert time.monotonic() < deadline + 30, "the embedded worker did not run the heartbeat job"
            time.sleep(0.3)
        # The job ran in the demo process itself: web and worker are one process.
        assert done["completed_by"].endswith(f":{server.pid}")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"open http://127.0.0.1:{port}/ and log in as any of them" in output
    assert "admin@freshneighbour.example" in output
