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
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import openloop
import workload

REDIS_URL = os.environ.get("CXLOOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def create_ref_table(ref_url: str) -> None:
    from sqlalchemy import create_engine

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ["CXLOOP_BENCH_REF_URL"] = ref_url
    import ingest_ref_app

    engine = create_engine(ref_url.replace("+aiosqlite", ""))
    ingest_ref_app.Base.metadata.create_all(engine)
    engine.dispose()


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
    # Tenant-wide, so that the token may create and publish the survey.
    token = asyncio.run(common.seed(database_url, email="cx@bench.test", role="cx_manager"))
    create_ref_table(ref_url)
    queue = {"CXLOOP_REDIS_URL": REDIS_URL} if label == "postgresql" else {}
    env = common.server_env(database_url, work / f"data-{label}", CXLOOP_BENCH_REF_URL=ref_url, **queue)
    ref_port, app_port = common.free_port(), common.free_port()
    ref = common.start_uvicorn("ingest_ref_app:app", ref_port, env, "--no-access-log")
    app = common.start_cxloop(app_port, env)
    body_file = work / "response.json"
    body_file.write_bytes(workload.response_body())
    result: dict[str, Any] = {"database": label}
    try:
        base = f"http://127.0.0.1:{app_port}"
        common.wait_for(f"http://127.0.0.1:{ref_port}/healthz")
        common.wait_for(f"{base}/healthz")
        survey_id = common.published_survey(base, token, workload.SURVEY)
        ref_url_http = f"http://127.0.0.1:{ref_port}/responses"
        app_url = f"{base}/api/v1/surveys/{survey_id}/responses"
        if not args.skip_throughput:

            def post(url: str, auth: str | None, duration: int) -> float:
                return common.wrk(
                    url, token=auth, body_file=body_file, duration=duration, connections=args.connections
                )

            # Warm both (imports, pools, caches), then alternate which goes first.
            post(ref_url_http, None, 2)
            post(app_url, token, 2)
            ref_rps, app_rps = [], []
            for index in range(args.rounds):
                pair = [
                    lambda: ref_rps.append(post(ref_url_http, None, args.duration)),
                    lambda: app_rps.append(post(app_url, token, args.duration)),
                ]
                for run_one in pair if index % 2 == 0 else reversed(pair):
                    run_one()
            result["submit_vs_reference"] = common.ratio_summary(ref_rps, app_rps)
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
        common.stop(ref)
        common.stop(app)
        if label == "postgresql":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
    return result


def main() -> None:
    parser = common.arg_parser(__doc__)
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
    if not args.skip_throughput:
        common.require_wrk()
    if not 0 < args.rate_seconds <= 120 or not 0 < args.batch_seconds <= 120:
        sys.exit("timed loads are bounded to 120 s each")
    results: dict[str, Any] = {**common.machine_info(), "runs": []}
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
            with common.postgres_schema() as url:
                results["runs"].append(measure("postgresql", url, url, work, args))
    common.write_results("ingest.json", results)
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}), flush=True)


if __name__ == "__main__":
    main()
