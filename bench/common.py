"""What the benchmark scripts (run.py, ingest.py, respondent.py) share.

Seeding through the services, starting and stopping the servers under test,
driving wrk, the PostgreSQL schema each run works in, and the results file
with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("CXLOOP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POST_LUA = BENCH / "post.lua"


def arg_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every script takes; each adds its own after them."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    return parser


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")


def machine_info() -> dict[str, Any]:
    """The header of every results file: the figures only mean something on the machine they came from."""
    return {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_results(name: str, results: dict[str, Any]) -> None:
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / name).write_text(json.dumps(results, indent=2))


async def seed(database_url: str, *, email: str, role: str) -> str:
    """A tenant with a head office and a store, one user and their token, through the services.

    A tenant-wide role gets no unit; any other role is the store's. Returns the token's secret.
    """
    from cxloop.identity import TENANT_WIDE_ROLES, Role
    from cxloop.identity.audit import Actor
    from cxloop.identity.tenants import create_tenant
    from cxloop.identity.tokens import create_user_token
    from cxloop.identity.units import create_unit
    from cxloop.identity.users import create_user
    from cxloop.kit.db import Database

    db = Database(database_url)
    actor = Actor(tenant_id=None, label="bench")
    async with db.session(write=True) as session:
        tenant = await create_tenant(session, slug="bench", name="Bench")
        await create_unit(session, tenant, code="HQ", names={"en": "HQ"}, parent_code=None, actor=actor)
        await create_unit(session, tenant, code="S1", names={"en": "Store"}, parent_code="HQ", actor=actor)
        view = await create_user(
            session,
            tenant,
            email=email,
            # "Bench" for bench@bench.test, so that /me's body is as long as bare_app.py's.
            name=email.partition("@")[0].capitalize(),
            password=None,
            role=role,
            unit_code=None if Role(role) in TENANT_WIDE_ROLES else "S1",
            actor=actor,
        )
        issued = await create_user_token(
            session, view.user, name="bench", scopes=None, expires_at=None, actor=actor
        )
        await session.commit()
    await db.dispose()
    return issued.secret


def api(method: str, url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def published_survey(base: str, token: str, definition: dict[str, Any]) -> str:
    created = api("POST", f"{base}/api/v1/surveys", token, {"definition": definition})
    survey_id: str = created["id"]
    api("POST", f"{base}/api/v1/surveys/{survey_id}/publish", token)
    return survey_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of the servers under test: this one's, with cxloop's settings for the run.

    An inherited CXLOOP_REDIS_URL is dropped, so that the job queue is the one the run means
    (the data directory's SQLite file unless ``extra`` names a Redis).
    """
    env = {
        **os.environ,
        "CXLOOP_DATABASE_URL": database_url,
        "CXLOOP_DATA_DIR": str(data_dir),
        "CXLOOP_SECRET_KEY": "bench-" + "k" * 40,
        "CXLOOP_EMBEDDED_WORKER": "false",
    }
    env.pop("CXLOOP_REDIS_URL", None)
    return {**env, **extra}


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_cxloop(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start(
        [str(BIN / "cxloop"), "serve", "--workers", "2", "--port", str(port), "--no-access-log"], env
    )


def start_uvicorn(app: str, port: int, env: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    """A reference app from bench/ under uvicorn with as many workers as cxloop serve gets."""
    return start(
        [
            str(BIN / "uvicorn"),
            app,
            "--app-dir",
            "bench",
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *options,
        ],
        env,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(url)


def wrk(
    url: str,
    *,
    token: str | None,
    body_file: Path | None = None,
    script: Path | None = None,
    duration: int,
    connections: int,
) -> float:
    """Requests/s of wrk against ``url`` (2 threads); a GET unless ``body_file`` is POSTed by post.lua.

    Raises if any answer was not 2xx or 3xx: a figure made of errors is no figure.
    """
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    env = dict(os.environ)
    if body_file is not None:
        env["WRK_BODY_FILE"] = str(body_file)
        script = script or POST_LUA
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, env=env).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} failed responses\n{output}")
    socket_errors = re.search(r"Socket errors:.*", output)
    if socket_errors:
        # wrk's 2 s timeouts: counted as failures, not as answers (they are not in Requests/sec).
        print(f"  {url}: {socket_errors.group(0).strip()}", file=sys.stderr, flush=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise RuntimeError(output)
    return float(match.group(1))


def ratio_summary(
    ref: list[float], app: list[float], names: tuple[str, str] = ("ref", "app")
) -> dict[str, Any]:
    """Medians of paired rounds, ``app`` over ``ref``, keyed ``{name}_rps_median``.

    Each round measures both servers back to back, so a round's ratio shares
    that moment's noise; the median of the rounds is the figure we report.
    """
    ref_name, app_name = names
    ratios = sorted(a / r for r, a in zip(ref, app, strict=True))
    return {
        f"{ref_name}_rps_median": round(statistics.median(ref)),
        f"{app_name}_rps_median": round(statistics.median(app)),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "rounds": {ref_name: ref, app_name: app},
    }


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL into a fresh schema of PG_URL's database, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
