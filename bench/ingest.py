"""Response ingest benchmarks (issue 3); figures go to docs/benchmarks.md.

    .venv/bin/python bench/ingest.py [--rounds 5] [--duration 6] [--connections 32]
        [--rate 500 [--rate 100 ...]] [--rate-seconds 20] [--batch-clients 4] [--batch-seconds 15]
        [--skip-sqlite] [--skip-postgres] [--skip-latency] [--skip-batch]

1. Requests/s of ``POST /api/v1/surveys/{id}/responses`` with a ~1 KB response
   (bench/workload.py) to a published 10-question survey, served by
   ``cxloop serve --workers 2 --no-access-log``, against bench/ingest_ref_app.py
   (FastAPI validating the same body with pydantic and inserting one row with
   SQLAlchemy async into the same kind of database) under uvicorn with 2
   workers, in paired wrk rounds, on SQLite and on PostgreSQL.
   Target: at least 70 % of the reference.
2. Latency at a fixed open-loop arrival rate (bench/openloop.py), 500 req/s by
   default. Target: p99 under 50 ms.
3. Batch ingest on PostgreSQL: several clients posting 1,000-item batches to
   ``/responses/batch`` for a fixed time. Target: at least 20,000 responses/s.

Each database runs as deployed (docs/deploy.md): SQLite with the job queue
in a SQLite file in the data directory, PostgreSQL with Redis carrying the
job messages (database 13 of the Redis on 127.0.0.1, emptied afterwards;
CXLOOP_BENCH_REDIS_URL overrides it). No worker runs the jobs during the
measurement: the figures are the cost of taking a response (its row, its
outbox job, the hand-off), not of the pipeline behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openloop
import workload
from run import BIN, PG_URL, ROOT, free_port, start, stop, wait_for

LUA = Path(__file__).resolve().parent / "post.lua"
REDIS_URL = os.environ.get("CXLOOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


async def seed(database_url: str) -> str:
    """A tenant with a store, and a tenant-wide CX manager's token, through the services."""
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
            email="cx@bench.test",
            name="CX",
            password=None,
            role="cx_manager",
            unit_code=None,
            actor=actor,
        )
        issued = await create_user_token(
            session, view.user, name="bench", scopes=None, expires_at=None, actor=actor
        )
        await session.commit()
    await db.dispose()
    return issued.secret


def create_ref_table(ref_url: str) -> None:
    from sqlalchemy import create_engine

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ["CXLOOP_BENCH_REF_URL"] = ref_url
    import ingest_ref_app

    engine = create_engine(ref_url.replace("+aiosqlite", ""))
    ingest_ref_app.Base.metadata.create_all(engine)
    engine.dispose()


def api(method: str, url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def published_survey(base: str, token: str) -> str:
    created = api("POST", f"{base}/api/v1/surveys", token, {"definition": workload.SURVEY})
    survey_id: str = created["id"]
    api("POST", f"{base}/api/v1/surveys/{survey_id}/publish", token)
    return survey_id


def wrk_post(url: str, body_file: Path, token: str | None, duration: int, connections: int) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(LUA), url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    env = {**os.environ, "WRK_BODY_FILE": str(body_file)}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    for line in output.splitlines():
        if "Non-2xx or 3xx responses" in line:
            raise RuntimeError(f"{url}: {line.strip()}\n{output}")
        if "Socket errors" in line:
            # wrk's 2 s timeouts: counted as failures, not as answers (they are not in Requests/sec).
            print(f"  {url}: {line.strip()}", file=sys.stderr, flush=True)
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(output)


def ratio_summary(ref: list[float], app: list[float]) -> dict[str, object]:
    ratios = sorted(a / r for r, a in zip(ref, app, strict=True))
    return {
        "ref_rps_median": round(statistics.median(ref)),
        "app_rps_median": round(statistics.median(app)),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "rounds": {"ref": ref, "app": app},
    }


async def batch_load(url: str, token: str, body: bytes, clients: int, seconds: float) -> dict[str, object]:
    """``clients`` closed-loop clients posting the same batch until the time is up."""
    host, port, raw = openloop.build_request(
        url, "POST", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    batches = failed = 0
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def client() -> None:
        nonlocal batches, failed
        reader, writer = await asyncio.open_connection(host, port)
        conn = openloop._Conn(reader, writer)
        while loop.time() < deadline:
            began = loop.time()
            status = await asyncio.wait_for(conn.exchange(raw), 60)
            if status == 200:
                batches += 1
                latencies.append(loop.time() - began)
            else:
                failed += 1
        writer.close()

    began = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = loop.time() - began
    return {
        "batches": batches,
        "failed": failed,
        "elapsed_s": round(elapsed, 2),
        "batch_latency_median_s": round(statistics.median(latencies), 3) if latencies else None,
    }


def measure(
    label: str, database_url: str, ref_url: str, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from cxloop.kit.migrate import upgrade

    upgrade(database_url)
    token = asyncio.run(seed(database_url))
    create_ref_table(ref_url)
    env = {
        **os.environ,
        "CXLOOP_DATABASE_URL": database_url,
        "CXLOOP_DATA_DIR": str(work / f"data-{label}"),
        "CXLOOP_SECRET_KEY": "bench-" + "k" * 40,
        "CXLOOP_EMBEDDED_WORKER": "false",
        "CXLOOP_BENCH_REF_URL": ref_url,
    }
    env.pop("CXLOOP_REDIS_URL", None)
    if label == "postgresql":
        env["CXLOOP_REDIS_URL"] = REDIS_URL
    ref_port, app_port = free_port(), free_port()
    ref = start(
        [
            str(BIN / "uvicorn"),
            "ingest_ref_app:app",
            "--app-dir",
            "bench",
            "--workers",
            "2",
            "--port",
            str(ref_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
    )
    app = start(
        [str(BIN / "cxloop"), "serve", "--workers", "2", "--port", str(app_port), "--no-access-log"], env
    )
    body_file = work / "response.json"
    body_file.write_bytes(workload.response_body())
    result: dict[str, Any] = {"database": label}
    try:
        base = f"http://127.0.0.1:{app_port}"
        wait_for(f"http://127.0.0.1:{ref_port}/healthz")
        wait_for(f"{base}/healthz")
        survey_id = published_survey(base, token)
        ref_url_http = f"http://127.0.0.1:{ref_port}/responses"
        app_url = f"{base}/api/v1/surveys/{survey_id}/responses"
        if not args.skip_throughput:
            # Warm both (imports, pools, caches), then alternate which goes first.
            wrk_post(ref_url_http, body_file, None, 2, args.connections)
            wrk_post(app_url, body_file, token, 2, args.connections)
            ref_rps, app_rps = [], []
            for index in range(args.rounds):
                pair = [
                    lambda: ref_rps.append(
                        wrk_post(ref_url_http, body_file, None, args.duration, args.connections)
                    ),
                    lambda: app_rps.append(
                        wrk_post(app_url, body_file, token, args.duration, args.connections)
                    ),
                ]
                for run_one in pair if index % 2 == 0 else reversed(pair):
                    run_one()
            result["submit_vs_reference"] = ratio_summary(ref_rps, app_rps)
            print(label, "submit", json.dumps(result["submit_vs_reference"]), flush=True)
        if not args.skip_latency:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            body = workload.response_body()
            result["latency_at_rate"] = []
            for rate in args.rate:
                runs = [
                    openloop.run(
                        app_url,
                        rate=rate,
                        seconds=args.rate_seconds,
                        method="POST",
                        body=body,
                        headers=headers,
                    ).summary()
                    for _ in range(args.latency_rounds)
                ]
                p99s = sorted(float(r["p99_ms"]) for r in runs)  # type: ignore[arg-type]
                summary = {
                    "rate": rate,
                    "seconds": args.rate_seconds,
                    "p99_ms_median": statistics.median(p99s),
                    "p99_ms_range": [p99s[0], p99s[-1]],
                    "runs": runs,
                }
                result["latency_at_rate"].append(summary)
                print(label, "latency", json.dumps(summary), flush=True)
        if label == "postgresql" and not args.skip_batch:
            batch_url = f"{base}/api/v1/surveys/{survey_id}/responses/batch"
            batch = workload.batch_body(1000)
            asyncio.run(batch_load(batch_url, token, batch, 1, 3))  # warm-up
            rounds = []
            for _ in range(args.batch_rounds):
                run = asyncio.run(batch_load(batch_url, token, batch, args.batch_clients, args.batch_seconds))
                run["responses_per_s"] = round(int(run["batches"]) * 1000 / float(run["elapsed_s"]))  # type: ignore[arg-type]
                rounds.append(run)
            rates = sorted(int(r["responses_per_s"]) for r in rounds)  # type: ignore[arg-type]
            result["batch"] = {
                "batch_size": 1000,
                "clients": args.batch_clients,
                "responses_per_s_median": statistics.median(rates),
                "responses_per_s_range": [rates[0], rates[-1]],
                "rounds": rounds,
            }
            print(label, "batch", json.dumps(result["batch"]), flush=True)
    finally:
        stop(ref)
        stop(app)
        if label == "postgresql":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--rate", type=float, action="append", help="open-loop rate in req/s; repeat for several (500)"
    )
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--batch-seconds", type=float, default=15)
    parser.add_argument("--batch-rounds", type=int, default=3)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    args.rate = args.rate or [500.0]
    if not args.skip_throughput and shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if not 0 < args.rate_seconds <= 120 or not 0 < args.batch_seconds <= 120:
        sys.exit("timed loads are bounded to 120 s each")
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_sqlite:
            results["runs"].append(
                measure(
                    "sqlite",
                    f"sqlite:///{work / 'bench.db'}",
                    f"sqlite+aiosqlite:///{work / 'ref.db'}",
                    work,
                    args,
                )
            )
        if not args.skip_postgres:
            from sqlalchemy import create_engine, text

            schema = f"bench_{os.getpid()}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            try:
                results["runs"].append(measure("postgresql", url, url, work, args))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}), flush=True)


if __name__ == "__main__":
    main()
