"""Benchmarks of the platform foundation; figures go to docs/benchmarks.md.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--skip-postgres] [--skip-demo]

1. Requests/s of ``GET /api/v1/me`` with a bearer token, served by
   ``cxloop serve --workers 2``, against a bare FastAPI endpoint (bench/bare_app.py)
   under uvicorn with 2 workers, measured in the same run with wrk on
   127.0.0.1, on SQLite and on PostgreSQL. Target: at least 60 % of the bare figure.
2. ``cxloop demo`` time to first page: from process start on an empty data
   directory until ``GET /login`` answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("CXLOOP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def wrk(url: str, token: str | None, duration: int, connections: int) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} failed responses\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not match:
        raise RuntimeError(output)
    return float(match.group(1))


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


async def seed(database_url: str) -> str:
    """A tenant, a unit, an admin and a token, through the services."""
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
            email="bench@bench.test",
            name="Bench",
            password=None,
            role="unit_manager",
            unit_code="S1",
            actor=actor,
        )
        issued = await create_user_token(
            session, view.user, name="bench", scopes=None, expires_at=None, actor=actor
        )
        await session.commit()
    await db.dispose()
    return issued.secret


def me_ratio(label: str, database_url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, object]:
    from cxloop.kit.migrate import upgrade

    upgrade(database_url)
    token = asyncio.run(seed(database_url))
    env = {
        **os.environ,
        "CXLOOP_DATABASE_URL": database_url,
        "CXLOOP_DATA_DIR": str(data_dir),
        "CXLOOP_SECRET_KEY": "bench-" + "k" * 40,
        "CXLOOP_EMBEDDED_WORKER": "false",
    }
    bare_port, app_port = free_port(), free_port()
    bare = start(
        [
            str(BIN / "uvicorn"),
            "bare_app:app",
            "--app-dir",
            "bench",
            "--workers",
            "2",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
        ],
        env,
    )
    app = start(
        [str(BIN / "cxloop"), "serve", "--workers", "2", "--port", str(app_port), "--no-access-log"], env
    )
    try:
        bare_url, app_url = (
            f"http://127.0.0.1:{bare_port}/api/v1/me",
            f"http://127.0.0.1:{app_port}/api/v1/me",
        )
        wait_for(bare_url)
        wait_for(app_url, headers={"Authorization": f"Bearer {token}"})
        # Warm both (imports, pools, caches), then alternate to share the noise.
        wrk(bare_url, None, 2, args.connections)
        wrk(app_url, token, 2, args.connections)
        bare_rps, app_rps = [], []
        for _ in range(args.rounds):
            bare_rps.append(wrk(bare_url, None, args.duration, args.connections))
            app_rps.append(wrk(app_url, token, args.duration, args.connections))
    finally:
        stop(bare)
        stop(app)
    # Each round measures both servers back to back, so a round's ratio shares
    # that moment's noise; the median of the rounds is the figure we report.
    ratios = sorted(app / bare for bare, app in zip(bare_rps, app_rps, strict=True))
    return {
        "database": label,
        "bare_rps_median": round(statistics.median(bare_rps)),
        "me_rps_median": round(statistics.median(app_rps)),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "rounds": {"bare": bare_rps, "me": app_rps},
    }


def demo_first_page(data_dir: Path) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    start_time = time.monotonic()
    demo = start([str(BIN / "cxloop"), "demo", "--port", str(port), "--data-dir", str(data_dir)], env)
    try:
        wait_for(f"http://127.0.0.1:{port}/login", timeout=180)
        return time.monotonic() - start_time
    finally:
        stop(demo)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    results: dict[str, object] = {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [me_ratio("sqlite", f"sqlite:///{work / 'bench.db'}", work / "data-sqlite", args)]
        if not args.skip_postgres:
            schema = f"bench_{os.getpid()}"
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
            try:
                runs.append(
                    me_ratio(
                        "postgresql", f"{PG_URL}?options=-csearch_path%3D{schema}", work / "data-pg", args
                    )
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        results["me_vs_bare"] = runs
        if not args.skip_demo:
            results["demo_first_page_seconds"] = round(demo_first_page(work / "demo-data"), 2)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
