"""What 100 active response rules add to the cost of ingesting a response (issue 6).

    .venv/bin/python bench/alerts_rules_cost.py [--responses 300] [--rounds 5] [--database sqlite|postgresql]

In one process, on a migrated database with the bench tenant and the 10-question survey of
bench/workload.py:

1. ingest: ``POST /api/v1/surveys/{id}/responses`` through the real app (TestClient, the
   request boundary, its commit and outbox row; the pipeline job is not run), per response;
2. rules: the alerts pipeline subscriber (``alerts.evaluate``) on each stored response, in a
   write transaction that is rolled back, with 0 and with 100 enabled response rules (a mix
   of score thresholds, filters on survey/channel/unit, embedded and contact fields, zh+en
   word lists, all/any/not; two of them fire on the detractor responses that are 1 in 10).

The figure is (rules_100 - rules_0) / ingest per response, the median over paired rounds.
Target: at most 0.20.

``--batch N`` (default 50, what one pipeline job takes under load, collection/tasks.py)
evaluates N responses per transaction as the pipeline job does: the responses read in one
query and handed to the set-based subscriber in one call, so that lookups shared by a batch
(the rules, the units, the contacts, what already fired) are read once per batch;
``--batch 1`` is one transaction per response (the pipeline when idle).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import workload


def rule_definitions(survey_id: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for i in range(100):
        kind = i % 5
        if kind == 0:
            cond: dict[str, Any] = {"source": "answers", "field": "nps", "op": "le", "value": i % 3}
        elif kind == 1:
            cond = {
                "all": [
                    {"source": "answers", "field": "csat", "op": "le", "value": 1},
                    {"not": {"source": "embedded", "field": "member_level", "op": "eq", "value": f"x{i}"}},
                ]
            }
        elif kind == 2:
            cond = {
                "words": {
                    "questions": ["comment"],
                    "lists": ["complaint_zh", "complaint_en"],
                    "terms": [f"词{i}"],
                }
            }
        elif kind == 3:
            cond = {
                "any": [
                    {"source": "contact", "field": "vip", "op": "eq", "value": True},
                    {"source": "answers", "field": "ces", "op": "ge", "value": 99},
                ]
            }
        else:
            cond = {"source": "answers", "field": "visit_reason", "op": "in", "value": [f"r{i}", "other"]}
        filters: dict[str, Any] = {}
        if i % 3 == 0:
            filters["surveys"] = [survey_id]
        if i % 4 == 0:
            filters["channels"] = ["api", "wechat"]
        if i % 10 == 0:
            filters["units"] = ["S1"]
        rules.append({"kind": "response", "filters": filters, "condition": cond})
    # Only these two match the detractors (no word list matches the comments), so firing
    # (the alert insert, its actions) is part of the cost too.
    rules[0]["condition"] = {"source": "answers", "field": "nps", "op": "le", "value": 3}
    rules[50]["condition"] = {"source": "answers", "field": "nps", "op": "le", "value": 3}
    return rules


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--responses", type=int, default=300)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from cxloop.kit.migrate import upgrade
    from cxloop.kit.settings import Settings
    from cxloop.web import create_app

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
                detractor = {
                    **workload.RESPONSE,
                    "unit_code": "S1",
                    "answers": {
                        **workload.RESPONSE["answers"],
                        "nps": 3,
                        "comment": "排队太久，店员也不太热情",
                    },
                }
                promoter = {**workload.RESPONSE, "unit_code": "S1"}
                bodies = [detractor if i % 10 == 0 else promoter for i in range(args.responses)]
                url = f"/api/v1/surveys/{survey}/responses"
                for body in bodies[:30]:  # warm-up
                    client.post(url, json=body, headers=headers).raise_for_status()
                rule_ids = []
                for definition in rule_definitions(survey):
                    answer = client.post(
                        "/api/v1/alert-rules",
                        json={"name": "r", "definition": definition, "enabled": False},
                        headers=headers,
                    )
                    answer.raise_for_status()
                    rule_ids.append(answer.json()["id"])

                def set_rules(enabled: bool) -> None:
                    for rid in rule_ids:
                        client.post(
                            f"/api/v1/alert-rules/{rid}/{'enable' if enabled else 'disable'}", headers=headers
                        ).raise_for_status()

                ingest, zero, hundred = [], [], []
                for _round in range(args.rounds):
                    started = time.perf_counter()
                    ids = []
                    for body in bodies:
                        answer = client.post(url, json=body, headers=headers)
                        answer.raise_for_status()
                        ids.append(answer.json()["id"])
                    ingest.append((time.perf_counter() - started) * 1000 / len(bodies))
                    set_rules(False)
                    zero.append(asyncio.run(evaluate_all(database_url, ids, args.batch)))
                    set_rules(True)
                    hundred.append(asyncio.run(evaluate_all(database_url, ids, args.batch)))
            ratios = sorted((h - z) / i for i, z, h in zip(ingest, zero, hundred, strict=True))
            result = {
                **common.machine_info(),
                "database": args.database,
                "responses_per_round": args.responses,
                "responses_per_transaction": args.batch,
                "ingest_ms_per_response": [round(x, 3) for x in ingest],
                "rules_0_ms_per_response": [round(x, 3) for x in zero],
                "rules_100_ms_per_response": [round(x, 3) for x in hundred],
                "added_over_ingest_median": round(statistics.median(ratios), 3),
                "added_over_ingest_range": [round(ratios[0], 3), round(ratios[-1], 3)],
            }
            print(json.dumps(result, indent=2), flush=True)
            common.write_results(f"alerts_rules_cost_{args.database}.json", result)
        finally:
            if schema is not None:
                schema.__exit__(None, None, None)


async def evaluate_all(database_url: str, response_ids: list[str], batch: int = 1) -> float:
    """ms per response of the alerts subscriber, in rolled-back transactions of ``batch``
    responses each (as the pipeline job)."""
    from sqlalchemy import select

    from cxloop.alerts.tasks import evaluate_stored
    from cxloop.collection import Response
    from cxloop.collection.pipeline import set_batch
    from cxloop.kit.db import Database

    db = Database(database_url)
    try:
        async with db.session(write=True) as session:  # warm the compiled-rule cache
            await evaluate_stored(session, response_ids[0], {"response_id": response_ids[0]})
            await session.rollback()
        started = time.perf_counter()
        for start in range(0, len(response_ids), batch):
            chunk = response_ids[start : start + batch]
            kept: Any = None
            async with db.session(write=True) as session:
                batched = getattr(evaluate_stored, "batch", None)
                if batch > 1:
                    # As the pipeline job: the batch's responses read in one query, and a
                    # set-based subscriber given all of them at once.
                    set_batch(session, tuple(chunk))
                    kept = (
                        (await session.execute(select(Response).where(Response.id.in_(chunk))))
                        .scalars()
                        .all()
                    )
                if batch > 1 and batched is not None:
                    await batched(session, [(rid, {"response_id": rid}) for rid in chunk])
                else:
                    for response_id in chunk:
                        await evaluate_stored(session, response_id, {"response_id": response_id})
                await session.rollback()
                del kept
        return (time.perf_counter() - started) * 1000 / len(response_ids)
    finally:
        await db.dispose()


if __name__ == "__main__":
    main()
