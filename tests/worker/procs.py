"""Starting real cxloop processes in tests: environment, ports, waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")

CXLOOP = str(Path(sys.executable).with_name("cxloop"))
SECRET_KEY = "process-test-secret-" + "k" * 32


def cxloop_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The parent's environment without any CXLOOP_* of its own, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.update(
        CXLOOP_DATABASE_URL=database_url,
        CXLOOP_DATA_DIR=str(data_dir),
        CXLOOP_SECRET_KEY=SECRET_KEY,
        CXLOOP_WEBHOOK_PRIVATE_TARGETS="true",  # test receivers listen on 127.0.0.1
        PYTHONUNBUFFERED="1",
    )
    env.update({f"CXLOOP_{k.upper()}": v for k, v in settings.items()})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle: IO[bytes] = log.open("wb")
    return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL if it will not go; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
