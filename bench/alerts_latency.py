"""Alert latency under load (issue 6): response committed -> case created -> signed webhook
received by a server on 127.0.0.1, while responses are ingested at a fixed rate.

    .venv/bin/python bench/alerts_latency.py [--rate 200] [--alert-rate 10] [--seconds 20]
        [--database sqlite|postgresql]

``cxloop serve --workers 2`` takes the responses and ``cxloop worker`` (``--worker-processes``
of them, ``--worker-threads`` each) runs the pipeline
(SQLite: the job queue in the data directory; PostgreSQL: Redis db 13 carries the job
messages). One response rule (NPS <= 6, open a case) and one webhook (``case.created``)
are configured. Promoters (no alert) arrive at ``rate - alert-rate`` per second and
detractors at ``alert-rate`` per second, both open-loop (bench/openloop.py). For every
detractor the latency is the webhook's arrival time minus the response's ``received_at``
(stored in the same transaction as the response, so: from commit, on the same clock).
Target: p99 within 1 s at 200 responses/s on 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import openloop
import workload

REDIS_URL = os.environ.get("CXLOOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


class Arrivals:
    def __init__(self) -> None:
        self.by_response: dict[str, float] = {}
        self.lock = threading.Lock()


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            now = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = json.loads(body).get("data") or {}
            with arrivals.lock:
                arrivals.by_response.setdefault(str(data.get("response_id")), now)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants so far (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending += [int(child) for child in children]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def percentile(values: list[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return math.nan
    return data[max(1, math.ceil(q / 100 * len(data))) - 1]


async def load(
    url: str, headers: dict[str, str], promoters: bytes, detractors: bytes, args: Any
) -> list[Any]:
    return list(
        await asyncio.gather(
            openloop.fixed_rate(
                url,
                rate=args.rate - args.alert_rate,
                seconds=args.seconds,
                method="POST",
                body=promoters,
                headers=headers,
            ),
            openloop.fixed_rate(
                url,
                rate=args.alert_rate,
                seconds=args.seconds,
                method="POST",
                body=detractors,
                headers=headers,
            ),
        )
    )


def committed_at(database_url: str) -> dict[str, float]:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from cxloop.collection import Response
    from cxloop.kit.db import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Response.id, Response.received_at).where(Response.answers["nps"].as_integer() <= 6)
            ).all()
    finally:
        engine.dispose()
    out = {}
    for response_id, received_at in rows:
        stamp = received_at if isinstance(received_at, datetime) else datetime.fromisoformat(str(received_at))
        out[response_id] = stamp.timestamp()
    return out


def background_waiting(database_url: str) -> int:
    """Background-lane jobs (text analysis) not finished yet."""
    from sqlalchemy import create_engine, func, select
    from sqlalchemy.orm import Session

    from cxloop.kit.db import sync_url
    from cxloop.kit.jobs import DEAD, DONE, OutboxJob

    engine = create_engine(sync_url(database_url))
    try:
        with Session(engine) as session:
            return int(
                session.execute(
                    select(func.count()).where(
                        OutboxJob.name == "collection.response_stored.background",
                        OutboxJob.status.not_in([DONE, DEAD]),
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--alert-rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    # uvicorn restarts a child that misses its health check; on a machine loaded far beyond
    # its cores the children of --workers 2 never come up, so this can be lowered.
    parser.add_argument("--web-workers", type=int, default=2)
    # `cxloop worker` processes (each with its relay) and threads in each.
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--worker-threads", type=int, default=2)
    args = parser.parse_args()

    from cxloop.kit.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.database == "postgresql":
            schema = common.postgres_schema()
            database_url = schema.__enter__()
            queue = {"CXLOOP_REDIS_URL": REDIS_URL}
        else:
            schema = None
            database_url = f"sqlite:///{work / 'cxloop.db'}"
            queue = {}
        try:
            upgrade(database_url)
            token = asyncio.run(common.seed(database_url, email="cx@bench.test", role="cx_manager"))
            env = common.server_env(
                database_url,
                work / "data",
                CXLOOP_TEXT_ENGINE="inline",
                CXLOOP_WEBHOOK_PRIVATE_TARGETS="true",  # the receiver is on 127.0.0.1
                **queue,
            )
            port = common.free_port()
            app = common.start(
                [
                    str(common.BIN / "cxloop"),
                    "serve",
                    "--workers",
                    str(args.web_workers),
                    "--port",
                    str(port),
                    "--no-access-log",
                ],
                env,
            )
            worker_log = (work / "worker.log").open("wb")
            workers = [
                subprocess.Popen(
                    [str(common.BIN / "cxloop"), "worker", "--threads", str(args.worker_threads)],
                    env=env,
                    cwd=common.ROOT,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                )
                for _ in range(args.worker_processes)
            ]
            arrivals = Arrivals()
            server = receiver(arrivals)
            try:
                base = f"http://127.0.0.1:{port}"
                common.wait_for(f"{base}/healthz", timeout=180)
                survey_id = common.published_survey(base, token, workload.SURVEY)
                common.api(
                    "POST",
                    f"{base}/api/v1/alert-rules",
                    token,
                    {
                        "name": "Detractor",
                        "definition": {
                            "kind": "response",
                            "condition": {"source": "answers", "field": "nps", "op": "le", "value": 6},
                            "actions": {"open_case": {}},
                        },
                    },
                )
                common.api(
                    "POST",
                    f"{base}/api/v1/webhooks",
                    token,
                    {"url": f"http://127.0.0.1:{server.server_address[1]}/hook", "events": ["case.created"]},
                )
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                promoter = workload.response_body()
                detractor = json.dumps(
                    {**workload.RESPONSE, "answers": {**workload.RESPONSE["answers"], "nps": 2}}
                ).encode()
                url = f"{base}/api/v1/surveys/{survey_id}/responses"
                # Warm up: imports, pools, the compiled rule cache, the worker's first jobs.
                asyncio.run(load(url, headers, promoter, detractor, argparse_like(args, seconds=3)))
                time.sleep(5)
                # The warm-up's text analysis trains the text models once per worker process
                # (seconds of CPU): let it finish, or the measured window measures that.
                waited = time.time()
                while background_waiting(database_url) and time.time() - waited < 180:
                    time.sleep(1)
                with arrivals.lock:
                    arrivals.by_response.clear()
                started = time.time()
                cpu_before = {"web": cpu_seconds(app.pid), "worker": sum(cpu_seconds(w.pid) for w in workers)}
                log_before = (work / "worker.log").stat().st_size
                ingest, alerts = asyncio.run(load(url, headers, promoter, detractor, args))
                deadline = time.time() + 60
                commits = {}
                while time.time() < deadline:
                    commits = {k: v for k, v in committed_at(database_url).items() if v >= started}
                    with arrivals.lock:
                        if all(k in arrivals.by_response for k in commits):
                            break
                    time.sleep(1)
                with arrivals.lock:
                    latencies = [
                        (arrivals.by_response[k] - v) * 1000
                        for k, v in commits.items()
                        if k in arrivals.by_response
                    ]
                missing = len(commits) - len(latencies)
                cpu_used = {
                    "web": cpu_seconds(app.pid) - cpu_before["web"],
                    "worker": sum(cpu_seconds(w.pid) for w in workers) - cpu_before["worker"],
                }
                measured_log = (work / "worker.log").read_bytes()[log_before:].decode(errors="replace")
                result = {
                    **common.machine_info(),
                    "database": args.database,
                    "web_workers": args.web_workers,
                    "worker_processes": args.worker_processes,
                    "worker_threads": args.worker_threads,
                    "rate": args.rate,
                    "alert_rate": args.alert_rate,
                    "seconds": args.seconds,
                    "ingest": ingest.summary(),
                    "alert_posts": alerts.summary(),
                    "alerts": len(commits),
                    "webhooks_missing_after_60s": missing,
                    "commit_to_webhook_ms": {
                        "p50": round(percentile(latencies, 50), 1),
                        "p90": round(percentile(latencies, 90), 1),
                        "p99": round(percentile(latencies, 99), 1),
                        "max": round(max(latencies), 1) if latencies else None,
                    },
                }
                result["pipeline_jobs"] = pipeline_jobs((work / "worker.log").read_text())
                # From the start of the measured load until every webhook arrived (or 60 s):
                # what the worker processes and the web processes used, per response stored.
                measured = pipeline_jobs(measured_log)
                stored = max(measured["prompt"]["responses"], 1)
                result["measured"] = {
                    **measured,
                    "load_average": Path("/proc/loadavg").read_text().split()[:3],
                    "worker_cpu_s": round(cpu_used["worker"], 2),
                    "web_cpu_s": round(cpu_used["web"], 2),
                    "worker_cpu_ms_per_response": round(cpu_used["worker"] * 1000 / stored, 2),
                }
                if os.environ.get("CXLOOP_BENCH_WORKER_LOG"):  # to read what the worker did
                    Path(os.environ["CXLOOP_BENCH_WORKER_LOG"]).write_bytes(
                        (work / "worker.log").read_bytes()
                    )
                print(json.dumps(result, indent=2), flush=True)
                if missing:
                    print((work / "worker.log").read_text()[-200000:], file=sys.stderr)
                common.write_results(f"alerts_latency_{args.database}.json", result)
            finally:
                server.shutdown()
                for worker in workers:
                    common.stop(worker)
                common.stop(app)
                if args.database == "postgresql":
                    import redis

                    redis.Redis.from_url(REDIS_URL).flushdb()
        finally:
            if schema is not None:
                schema.__exit__(None, None, None)


def pipeline_jobs(log_text: str) -> dict[str, Any]:
    """How the worker's pipeline jobs went: per lane, jobs and responses per job."""
    import re

    out: dict[str, Any] = {}
    for lane in ("prompt", "background"):
        sizes = [int(n) for n in re.findall(rf" {lane}: (\d+) response", log_text)]
        out[lane] = {"jobs": len(sizes), "responses": sum(sizes), "largest": max(sizes, default=0)}
        # The job's own wall time, logged since the set-based prompt lane.
        times = [float(ms) for ms in re.findall(rf" {lane}: \d+ response.* in (\d+) ms", log_text)]
        if times:
            out[lane]["job_ms_median"] = sorted(times)[len(times) // 2]
            out[lane]["job_ms_max"] = max(times)
    out["skipped_done"] = log_text.count("skipped: done")
    return out


def argparse_like(args: Any, **changes: Any) -> Any:
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


if __name__ == "__main__":
    main()
