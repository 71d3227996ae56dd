"""Batch ingest, reading responses within scope, and the post-commit pipeline."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import subscribe, unsubscribe
from cxloop.kit.db import Database
from cxloop.kit.jobs import run_job
from tests.collection.support import make_survey, rows, written
from tests.factories import Org


def batch(client: TestClient, org: Org, survey_id: str, items: list[Any], who: str = "east") -> Any:
    return client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth(who)
    )


def test_batch_stores_valid_items_and_reports_the_rest(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    items = [
        {"answers": {"nps": 9}, "unit_code": "SH001"},
        {"answers": {"nps": 12}, "unit_code": "SH002"},
        {"answers": "nope"},
        {"answers": {"nps": 0, "why": "slow"}, "unit_code": "GZ001"},
        {"answers": {"nps": 10}, "unit_code": "SH002", "channel": "web"},
    ]
    response = batch(client, org, survey_id, items)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    ids = [r.pop("id", None) for r in results]
    assert results == [
        {"index": 0, "status": 201},
        {"index": 1, "status": 422, "errors": [{"path": "answers.nps", "message": "must be from 0 to 10"}]},
        {
            "index": 2,
            "status": 422,
            "errors": [{"path": "answers", "message": "Input should be a valid dictionary"}],
        },
        {"index": 3, "status": 422, "errors": [{"path": "unit_code", "message": "No unit 'GZ001'."}]},
        {"index": 4, "status": 201},
    ]
    assert ids[1:4] == [None, None, None]
    stored = rows(database_url, "SELECT id, channel FROM responses ORDER BY id")
    assert stored == [(ids[0], "api"), (ids[4], "web")]
    # One pipeline job for the batch, carrying the ids of what was stored, and the
    # background lane's job that the first one queued for the same responses.
    jobs = rows(database_url, "SELECT name, payload FROM outbox_jobs ORDER BY id")
    payload = {"response_ids": [ids[0], ids[4]], "survey_id": survey_id, "tenant_id": org.tenant_id}
    assert [
        (name, json.loads(payload) if isinstance(payload, str) else payload) for name, payload in jobs
    ] == [("collection.response_stored", payload), ("collection.response_stored.background", payload)]


def test_batch_limits_and_refusals(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    closed = make_survey(client, org, close=True)
    before = written(database_url)
    assert batch(client, org, survey_id, []).status_code == 422
    assert batch(client, org, survey_id, [{"answers": {"nps": 1}}] * 1001).status_code == 422
    assert batch(client, org, closed, [{"answers": {"nps": 1}, "unit_code": "SH001"}]).status_code == 409
    assert batch(client, org, survey_id, [{"answers": {"nps": 1}}], who="agent").status_code == 403
    all_bad = batch(client, org, survey_id, [{"answers": {"nps": -1}, "unit_code": "SH001"}])
    assert all_bad.json()["results"][0]["status"] == 422
    assert written(database_url) == before
    full = batch(
        client,
        org,
        survey_id,
        [{"answers": {"nps": i % 11}, "unit_code": "SH001", "touchpoint": "t"} for i in range(1000)],
        who="cx",
    )
    assert [r["status"] for r in full.json()["results"]].count(201) == 1000 - sum(
        1 for i in range(1000) if i % 11 <= 6
    )


def test_reads_are_filtered_and_limited_to_my_scope(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    other = make_survey(client, org)
    items = [
        {
            "answers": {"nps": 9},
            "unit_code": "SH001",
            "channel": "sms",
            "submitted_at": "2026-01-01T00:00:00Z",
        },
        {
            "answers": {"nps": 9},
            "unit_code": "SH002",
            "touchpoint": "pos",
            "submitted_at": "2026-01-02T00:00:00Z",
        },
        {"answers": {"nps": 9}, "unit_code": "GZ001", "submitted_at": "2026-01-03T00:00:00Z"},
        {"answers": {"nps": 9}, "submitted_at": "2026-01-04T00:00:00Z"},
    ]
    ids = [r["id"] for r in batch(client, org, survey_id, items, who="cx").json()["results"]]
    batch(client, org, other, items[:1], who="cx")

    def listed(who: str, query: str = "") -> list[str]:
        response = client.get(f"/api/v1/surveys/{survey_id}/responses{query}", headers=org.auth(who))
        assert response.status_code == 200, response.text
        found = [r["id"] for r in response.json()["items"]]
        assert found == sorted(found)
        return sorted(found)

    assert listed("cx") == sorted(ids)
    assert listed("analyst") == sorted(ids[:2])
    assert listed("agent") == sorted(ids[:1])
    assert listed("cx", "?unit_code=EAST") == sorted(ids[:2])
    assert listed("cx", "?unit_code=SOUTH") == sorted(ids[2:3])
    assert listed("cx", "?channel=sms") == sorted(ids[:1])
    assert listed("cx", "?touchpoint=pos") == sorted(ids[1:2])
    assert listed("cx", "?submitted_from=2026-01-02T00:00:00Z&submitted_to=2026-01-04T00:00:00Z") == sorted(
        ids[1:3]
    )
    assert (
        client.get(
            f"/api/v1/surveys/{survey_id}/responses?unit_code=GZ001", headers=org.auth("analyst")
        ).status_code
        == 404
    )
    first = client.get(f"/api/v1/surveys/{survey_id}/responses?limit=3", headers=org.auth("admin")).json()
    assert [r["id"] for r in first["items"]] == sorted(ids)[:3]
    rest = client.get(
        f"/api/v1/surveys/{survey_id}/responses?limit=3&cursor={first['next_cursor']}",
        headers=org.auth("admin"),
    ).json()
    assert [r["id"] for r in rest["items"]] == sorted(ids)[3:]
    assert rest["next_cursor"] is None
    assert client.get(f"/api/v1/responses/{ids[2]}", headers=org.auth("analyst")).status_code == 404
    assert client.get(f"/api/v1/responses/{ids[3]}", headers=org.auth("east")).status_code == 404
    assert client.get(f"/api/v1/responses/{ids[3]}", headers=org.auth("cx")).json()["unit_code"] is None
    assert (
        client.get("/api/v1/surveys/01ARZ3NDEKTSV4RRFFQ69G5FAV/responses", headers=org.auth("cx")).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/surveys/{survey_id}/responses?submitted_from=2026-01-01", headers=org.auth("cx")
        ).status_code
        == 422
    )
    assert (
        client.get(f"/api/v1/surveys/{survey_id}/responses?cursor=junk", headers=org.auth("cx")).status_code
        == 422
    )


# The prompt lane's job (the background lane's job it queues is another row).
PROMPT_JOBS = "SELECT status, attempts FROM outbox_jobs WHERE name = 'collection.response_stored'"
PROMPT_JOB_IDS = "SELECT id FROM outbox_jobs WHERE name = 'collection.response_stored'"


@pytest.fixture
def seen() -> Any:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def record(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        calls.append((response_id, payload))

    subscribe("tests.record")(record)
    yield calls
    unsubscribe("tests.record")


def test_each_stored_response_reaches_subscribers_once(
    client: TestClient, org: Org, database_url: str, seen: list[tuple[str, dict[str, Any]]]
) -> None:
    survey_id = make_survey(client, org)
    results = batch(
        client, org, survey_id, [{"answers": {"nps": 9}, "unit_code": "SH001"}, {"answers": {}}]
    ).json()
    stored_id = results["results"][0]["id"]
    assert seen == [
        (stored_id, {"response_id": stored_id, "survey_id": survey_id, "tenant_id": org.tenant_id})
    ]
    assert rows(database_url, PROMPT_JOBS) == [("done", 1)]


def test_a_batch_job_hands_each_response_to_every_subscriber_exactly_once(
    client: TestClient, org: Org, database_url: str, seen: list[tuple[str, dict[str, Any]]]
) -> None:
    second: list[str] = []

    async def also(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        second.append(response_id)

    subscribe("tests.second")(also)
    try:
        survey_id = make_survey(client, org)
        items = [{"answers": {"nps": 9}, "unit_code": code} for code in ("SH001", "SH002", "SH001")]
        results = batch(client, org, survey_id, items).json()["results"]
        ids = [r["id"] for r in results]
        (job_id,) = [row[0] for row in rows(database_url, PROMPT_JOB_IDS)]
        # A duplicate delivery of the same job finds it done and calls no one again.
        asyncio.run(_run_again(database_url, job_id))
    finally:
        unsubscribe("tests.second")
    payload = {"survey_id": survey_id, "tenant_id": org.tenant_id}
    assert seen == [(i, {"response_id": i, **payload}) for i in ids]
    assert second == ids
    assert rows(database_url, PROMPT_JOBS) == [("done", 1)]


async def _run_again(database_url: str, job_id: str) -> None:
    db = Database(database_url)
    try:
        await run_job(db, job_id)
    finally:
        await db.dispose()


def test_a_batch_job_retries_as_a_whole_when_a_subscriber_fails(
    client: TestClient, org: Org, database_url: str
) -> None:
    calls: list[str] = []

    async def flaky(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        calls.append(response_id)
        if len(calls) == 2:
            raise RuntimeError("subscriber down")

    subscribe("tests.flaky")(flaky)
    try:
        survey_id = make_survey(client, org)
        items = [{"answers": {"nps": 9}, "unit_code": "SH001"}] * 2
        ids = [r["id"] for r in batch(client, org, survey_id, items).json()["results"]]
        assert rows(database_url, PROMPT_JOBS) == [("dispatched", 1)]
        (job_id,) = [row[0] for row in rows(database_url, PROMPT_JOB_IDS)]
        asyncio.run(_run_again(database_url, job_id))
    finally:
        unsubscribe("tests.flaky")
    # The failed attempt's writes were undone with it; the retry hands both over again.
    assert calls == [ids[0], ids[1], ids[0], ids[1]]
    assert rows(database_url, PROMPT_JOBS) == [("done", 2)]
