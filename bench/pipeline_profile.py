"""Where a prompt-lane pipeline job spends its time (issue 6): per subscriber, per batch.

    .venv/bin/python bench/pipeline_profile.py [--database postgresql] [--responses 200]
        [--batch 50] [--profile out.prof]

In one process, on a migrated database with the bench tenant, the 10-question survey of
bench/workload.py, the alert-latency bench's rule (NPS <= 6 opens a case) and a
``case.created`` webhook: ingest ``--responses`` responses (1 in 10 detractors) through the
real app with no worker, then run their ``collection.response_stored`` jobs with
``run_job`` exactly as a worker does (each job drains up to 50 others). Every prompt-lane
subscriber is wrapped to count its wall time, CPU time and SQL statements; the job's
own fixed cost (claim, commit, finish) is what is left. ``--profile`` writes a cProfile of
the job runs.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import workload

_current: list[str] = ["job"]
statements: dict[str, int] = defaultdict(int)


def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    statements[_current[-1]] += 1
    if os.environ.get("PROFILE_SQL") == _current[-1]:
        print(_current[-1], " ".join(statement.split())[:150], file=sys.stderr)


def wrap_subscribers(wall: dict[str, float], cpu: dict[str, float]) -> None:
    from cxloop.collection import pipeline

    registry = pipeline._stored

    def timed(call: Any, name: str) -> Any:
        async def run(*args: Any) -> None:
            _current.append(name)
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                await call(*args)
            finally:
                wall[name] += time.perf_counter() - started
                cpu[name] += time.process_time() - cpu_started
                _current.pop()

        return run

    for name, subscriber in list(registry._by_name.items()):
        # A set-based subscriber stays one (the pipeline hands it the whole batch).
        batched = getattr(pipeline, "BatchSubscriber", None)
        if batched is not None and isinstance(subscriber, batched):
            registry._by_name[name] = batched(timed(subscriber.body, name))
        else:
            registry._by_name[name] = timed(subscriber, name)


async def run_jobs(database_url: str, profile: cProfile.Profile | None) -> dict[str, Any]:
    from sqlalchemy import event, select

    from cxloop.collection.pipeline import lane_subscribers
    from cxloop.kit.db import Database
    from cxloop.kit.jobs import DONE, OutboxJob, _finished_here, run_job

    db = Database(database_url)
    event.listen(db.engine.sync_engine, "before_cursor_execute", _count)
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    wrap_subscribers(wall, cpu)
    try:
        async with db.session(write=False) as session:
            ids = list(
                (
                    await session.execute(
                        select(OutboxJob.id)
                        .where(OutboxJob.name == "collection.response_stored", OutboxJob.status != DONE)
                        .order_by(OutboxJob.available_at)
                    )
                ).scalars()
            )
        started, cpu_started = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        for job_id in ids:  # as their messages arrive at one worker: most find the job drained
            await run_job(db, job_id)
        jobs = len(set(ids) - _finished_here.keys()) + (1 if ids else 0)
        if profile is not None:
            profile.disable()
        total_wall, total_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        responses = len(ids)
        names = list(lane_subscribers("prompt"))
        return {
            "responses": responses,
            "jobs_run": jobs,
            "wall_ms_per_response": round(total_wall * 1000 / responses, 3),
            "cpu_ms_per_response": round(total_cpu * 1000 / responses, 3),
            "statements_per_response": round(sum(statements.values()) / responses, 2),
            "subscribers": {
                name: {
                    "wall_ms_per_response": round(wall[name] * 1000 / responses, 3),
                    "cpu_ms_per_response": round(cpu[name] * 1000 / responses, 3),
                    "statements_per_response": round(statements[name] / responses, 2),
                }
                for name in names
            },
            "job_rest": {
                "wall_ms_per_response": round((total_wall - sum(wall.values())) * 1000 / responses, 3),
                "cpu_ms_per_response": round((total_cpu - sum(cpu.values())) * 1000 / responses, 3),
                "statements_per_response": round(statements["job"] / responses, 2),
            },
        }
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", _count)
        await db.dispose()


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--responses", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    os.environ["CXLOOP_WEBHOOK_PRIVATE_TARGETS"] = "true"  # the webhook names 127.0.0.1

    from fastapi.testclient import TestClient

    from cxloop.kit.migrate import upgrade
    from cxloop.kit.settings import Settings
    from cxloop.web import create_app
    from cxloop.worker.jobs import load_job_handlers

    load_job_handlers()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        schema = common.postgres_schema() if args.database == "postgresql" else None
        database_url = schema.__enter__() if schema is not None else f"sqlite:///{work / 'cxloop.db'}"
        try:
            upgrade(database_url)
            token = asyncio.run(common.seed(database_url, email="cx@bench.test", role="cx_manager"))
            settings = Settings(
                data_dir=work / "data",
                database_url=database_url,
                secret_key="bench-" + "k" * 40,
                jobs_immediate=False,
                embedded_worker=False,
            )
            headers = {"Authorization": f"Bearer {token}"}
            with TestClient(create_app(settings, start_worker=False)) as client:
                survey = client.post(
                    "/api/v1/surveys", json={"definition": workload.SURVEY}, headers=headers
                ).json()["id"]
                client.post(f"/api/v1/surveys/{survey}/publish", headers=headers).raise_for_status()
                client.post(
                    "/api/v1/alert-rules",
                    json={
                        "name": "Detractor",
                        "definition": {
                            "kind": "response",
                            "condition": {"source": "answers", "field": "nps", "op": "le", "value": 6},
                            "actions": {"open_case": {}},
                        },
                    },
                    headers=headers,
                ).raise_for_status()
                client.post(
                    "/api/v1/webhooks",
                    json={"url": "http://127.0.0.1:9/hook", "events": ["case.created"]},
                    headers=headers,
                ).raise_for_status()
                detractor = {**workload.RESPONSE, "answers": {**workload.RESPONSE["answers"], "nps": 2}}
                url = f"/api/v1/surveys/{survey}/responses"
                for i in range(args.responses):
                    body = detractor if i % 10 == 0 else workload.RESPONSE
                    client.post(url, json=body, headers=headers).raise_for_status()
            profile = cProfile.Profile() if args.profile else None
            result = {
                **common.machine_info(),
                "database": args.database,
                **asyncio.run(run_jobs(database_url, profile)),
            }
            if profile is not None and args.profile is not None:
                profile.dump_stats(str(args.profile))
            print(json.dumps(result, indent=2), flush=True)
        finally:
            if schema is not None:
                schema.__exit__(None, None, None)


if __name__ == "__main__":
    main()
