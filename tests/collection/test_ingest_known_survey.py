"""Submissions to a survey this process has already taken responses for go
through one guarded INSERT (collection/fast_submit.py). What it remembers is
only a hint: every change since (closing, a new published version, units,
reach, another tenant) must be answered exactly as the first time, and a
refused submission must leave nothing behind."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from cxloop.identity.auth import current_principal
from tests.collection.support import FULL_ANSWERS, definition, make_survey, rows, written
from tests.factories import Org, make_org


def post(client: TestClient, org: Org, survey_id: str, body: dict[str, Any], who: str = "cx") -> Any:
    return client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth(who))


BODY: dict[str, Any] = {"answers": FULL_ANSWERS, "unit_code": "SH001"}


def remember_principals(client: TestClient) -> None:
    """Once looked up, the caller is known without the database (as the process's cache does unless
    an auth change was notified meanwhile, which here could arrive at any moment): otherwise its
    lookup begins the session, and the guarded statement joins that transaction."""
    principals: dict[str, Any] = {}

    async def known_principal(request: Request) -> Any:
        key = request.headers["authorization"]
        if key not in principals:
            principals[key] = await current_principal(request)
        return principals[key]

    client.app.dependency_overrides[current_principal] = known_principal  # type: ignore[attr-defined]


def test_repeated_submissions_are_stored_alike_with_one_job_each(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    first = post(client, org, survey_id, {**BODY, "contact": {"email": "li@example.com"}})
    second = post(client, org, survey_id, {**BODY, "contact": {"email": "li@example.com"}})
    assert first.status_code == second.status_code == 201, second.text
    one, two = first.json(), second.json()
    assert one.pop("id") != two.pop("id")
    for key in ("received_at", "submitted_at"):
        assert one.pop(key) <= two.pop(key)
    assert one == two
    assert two["unit_code"] == "SH001" and two["survey_version"] == 1
    assert two["embedded"] == {"region": "cn"}
    stored = rows(
        database_url,
        "SELECT unit_id, tenant_id, survey_version, channel, source, status, revision FROM responses",
    )
    assert stored == [(org.unit_ids["SH001"], org.tenant_id, 1, "api", "api", "complete", 0)] * 2
    # One pipeline job per response (the pipeline may add jobs of its own behind it).
    stored_jobs = "SELECT status FROM outbox_jobs WHERE name = 'collection.response_stored'"
    assert rows(database_url, stored_jobs) == [("done",)] * 2
    fetched = client.get(f"/api/v1/responses/{second.json()['id']}", headers=org.auth("cx")).json()
    assert fetched["answers"] == FULL_ANSWERS
    assert fetched["contact"] == {"email": "li@example.com"}


def test_a_survey_closed_after_taking_responses_refuses_the_next(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY).status_code == 201
    assert post(client, org, survey_id, BODY).status_code == 201
    assert client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).status_code == 200
    before = written(database_url)
    refused = post(client, org, survey_id, BODY)
    assert refused.status_code == 409
    assert refused.json()["code"] == "survey_closed"
    assert post(client, org, survey_id, BODY).json()["code"] == "survey_closed"
    assert written(database_url) == before


def test_a_new_published_version_is_checked_and_recorded_at_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, {"answers": {"nps": 9}}).json()["survey_version"] == 1
    changed = definition()
    changed["pages"][0]["questions"][1]["required"] = True  # csat
    put = client.put(f"/api/v1/surveys/{survey_id}", json={"definition": changed}, headers=org.auth("cx"))
    assert put.status_code == 200, put.text
    # Still version 1 until the draft is published.
    assert post(client, org, survey_id, {"answers": {"nps": 9}}).json()["survey_version"] == 1
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    before = written(database_url)
    refused = post(client, org, survey_id, {"answers": {"nps": 9}})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"path": "answers.csat", "message": "is required"}]
    assert written(database_url) == before
    assert post(client, org, survey_id, {"answers": {"nps": 9, "csat": 4}}).json()["survey_version"] == 2
    assert post(client, org, survey_id, {"answers": {"nps": 8, "csat": 4}}).json()["survey_version"] == 2
    assert rows(database_url, "SELECT survey_version FROM responses ORDER BY id") == [(1,), (1,), (2,), (2,)]


def test_units_and_reach_are_checked_on_every_submission(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY, who="store").status_code == 201
    assert post(client, org, survey_id, BODY, who="store").status_code == 201
    before = written(database_url)
    outside = post(client, org, survey_id, {**BODY, "unit_code": "SH002"}, who="store")
    assert outside.status_code == 422
    assert outside.json()["errors"] == [{"path": "unit_code", "message": "No unit 'SH002'."}]
    missing = post(client, org, survey_id, {"answers": {"nps": 9}}, who="store")
    assert missing.json()["errors"] == [
        {"path": "unit_code", "message": "is required: you may record responses for your units only"}
    ]
    assert post(client, org, survey_id, {**BODY, "unit_code": "NOPE"}).json()["errors"] == [
        {"path": "unit_code", "message": "No unit 'NOPE'."}
    ]
    assert written(database_url) == before
    east = post(client, org, survey_id, {**BODY, "unit_code": "SH002"}, who="east")
    assert east.status_code == 201
    assert post(client, org, survey_id, {**BODY, "unit_code": "SH002"}, who="east").status_code == 201
    assert post(client, org, survey_id, {**BODY, "unit_code": "GZ001"}, who="east").status_code == 422
    sh002 = org.unit_ids["SH002"]
    assert rows(database_url, f"SELECT count(*) FROM responses WHERE unit_id = '{sh002}'") == [(2,)]


def test_faults_are_still_reported_with_their_paths(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY).status_code == 201
    before = written(database_url)
    bad = post(client, org, survey_id, {**BODY, "answers": {**FULL_ANSWERS, "nps": 11, "nope": 1}})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"path": "answers.nope", "message": "'nope' is not a question of this survey"},
        {"path": "answers.nps", "message": "must be from 0 to 10"},
    ]
    assert post(client, org, survey_id, {**BODY, "language": "fr"}).json()["errors"] == [
        {"path": "language", "message": "must be one of zh-CN, en"}
    ]
    assert written(database_url) == before


def test_another_tenant_never_reaches_a_survey_it_does_not_own(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, {"answers": {"nps": 9}}).status_code == 201
    other = make_org(database_url, "other", "other.test")
    before = written(database_url)
    assert post(client, other, survey_id, {"answers": {"nps": 9}}).status_code == 404
    assert post(client, other, survey_id, {"answers": {"nps": 9}}).status_code == 404
    assert written(database_url) == before


def _stored(database_url: str) -> list[tuple[Any, ...]]:
    return rows(
        database_url,
        "SELECT r.id, r.tenant_id, r.survey_id, r.survey_version, r.unit_id, r.channel, r.touchpoint,"
        " r.language, r.answers, r.embedded, r.contact_ref, r.source, r.status, r.revision,"
        " r.submitted_at, r.received_at, j.name, j.payload, j.attempts, j.created_at, j.available_at"
        " FROM responses r JOIN outbox_jobs j ON j.name = 'collection.response_stored'"
        " ORDER BY r.id, j.id",
    )


def test_the_guarded_step_writes_the_rows_the_ordinary_path_writes(
    client: TestClient, org: Org, database_url: str, monkeypatch: Any
) -> None:
    """The second submission takes the guarded step (one statement on PostgreSQL,
    one driver call on SQLite, with the response's outbox row): its rows read
    back exactly like those of the first, which took the ordinary path."""
    survey_id = make_survey(client, org)
    body = {
        **BODY,
        "touchpoint": "checkout",
        "language": "en",
        "submitted_at": "2026-03-01T08:30:00+08:00",
        "contact": {"email": "li@example.com", "external_id": "C-7"},
        "embedded": {"region": "east", "order_no": "商-42"},
    }
    from cxloop.collection import service

    guarded: list[bool] = []
    original = service.insert_guarded

    async def spy(*args: Any, **kwargs: Any) -> bool:
        guarded.append(await original(*args, **kwargs))
        return guarded[-1]

    monkeypatch.setattr(service, "insert_guarded", spy)
    ids = [post(client, org, survey_id, body).json()["id"] for _ in range(2)]
    assert guarded == [True]
    by_response: dict[str, list[tuple[Any, ...]]] = {}
    for row in _stored(database_url):
        payload = row[17] if isinstance(row[17], dict) else json.loads(row[17])
        if payload.get("response_id") == row[0]:
            by_response.setdefault(row[0], []).append(row)
    assert sorted(by_response) == sorted(ids)
    (first,), (second,) = by_response[ids[0]], by_response[ids[1]]
    same = slice(1, 14)
    assert first[same] == second[same]
    assert first[1:8] == (org.tenant_id, survey_id, 1, org.unit_ids["SH001"], "api", "checkout", "en")
    assert str(first[14]).startswith("2026-03-01 00:30:00")
    assert (second[16], second[18]) == ("collection.response_stored", 1)  # the pipeline ran it once
    assert second[19] == second[20]
    fetched = client.get(f"/api/v1/responses/{ids[1]}", headers=org.auth("cx")).json()
    assert fetched["embedded"] == {"region": "east", "order_no": "商-42"}
    assert fetched["contact"] == {"email": "li@example.com", "external_id": "C-7"}
    assert fetched["submitted_at"] == "2026-03-01T00:30:00Z"


def test_without_aiosqlite_calls_on_its_thread_the_statements_run_one_by_one(
    client: TestClient, org: Org, database_url: str, monkeypatch: Any
) -> None:
    if not database_url.startswith("sqlite"):
        return  # the driver call is SQLite's; PostgreSQL runs one statement either way
    from cxloop.collection import fast_submit

    monkeypatch.setattr(fast_submit, "on_driver_thread", lambda _driver: None)
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY).status_code == 201
    assert post(client, org, survey_id, BODY).status_code == 201
    assert client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).status_code == 200
    before = written(database_url)
    assert post(client, org, survey_id, BODY).json()["code"] == "survey_closed"
    assert written(database_url) == before
    assert rows(database_url, "SELECT count(*) FROM responses") == [(2,)]
    stored_jobs = "SELECT status FROM outbox_jobs WHERE name = 'collection.response_stored'"
    assert rows(database_url, stored_jobs) == [("done",)] * 2


def test_on_postgresql_a_lone_submission_commits_its_one_statement_by_itself(
    client: TestClient, org: Org, database_url: str, monkeypatch: Any
) -> None:
    """Without an Idempotency-Key the guarded statement runs in autocommit (no BEGIN and COMMIT
    round trips); with a key, and on the ordinary path after the guard stored nothing, the
    request's work runs in one transaction."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    from cxloop.collection import service

    seen: list[tuple[str, bool]] = []
    guarded, checked = service.insert_guarded, service._submit_checked

    async def autocommit(session: Any) -> bool:
        raw = await (await session.connection()).get_raw_connection()
        return bool(raw.driver_connection.autocommit)

    async def spy_guarded(session: Any, *args: Any, **kwargs: Any) -> bool:
        stored = await guarded(session, *args, **kwargs)
        if stored:
            seen.append(("guarded", await autocommit(session)))
        return stored

    async def spy_checked(session: Any, *args: Any) -> Any:
        seen.append(("ordinary", await autocommit(session)))
        return await checked(session, *args)

    remember_principals(client)
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY).status_code == 201  # the survey now known to this process
    monkeypatch.setattr(service, "insert_guarded", spy_guarded)
    monkeypatch.setattr(service, "_submit_checked", spy_checked)
    assert post(client, org, survey_id, BODY).status_code == 201
    keyed = client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        json=BODY,
        headers={**org.auth("cx"), "Idempotency-Key": "k-1"},
    )
    assert keyed.status_code == 201, keyed.text
    before = written(database_url)
    refused = post(client, org, survey_id, {**BODY, "unit_code": "NOPE"})
    assert refused.status_code == 422, refused.text
    assert written(database_url) == before
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert seen == [("guarded", True), ("guarded", False), ("ordinary", False)]
    stored_jobs = "SELECT status FROM outbox_jobs WHERE name = 'collection.response_stored'"
    assert rows(database_url, stored_jobs) == [("done",)] * 3


def test_on_sqlite_a_lone_submission_is_one_transaction_on_the_drivers_thread(
    client: TestClient, org: Org, database_url: str, monkeypatch: Any
) -> None:
    """BEGIN, both INSERTs and COMMIT in one call, after which the write turn is free at once; the
    ordinary path after a guard that stored nothing still runs in one transaction of its own, and a
    failure inside the call leaves nothing behind and the turn free."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    from cxloop.collection import fast_submit, service
    from cxloop.kit.writelock import held_turn, write_turn

    seen: list[tuple[str, bool, bool]] = []
    guarded, checked = service.insert_guarded, service._submit_checked

    async def spy_guarded(session: Any, *args: Any, **kwargs: Any) -> bool:
        stored = await guarded(session, *args, **kwargs)
        turn = write_turn(client.app.state.db)  # type: ignore[attr-defined]
        assert turn is not None
        seen.append(("guarded", stored, held_turn(session) is None and not turn._lock.locked()))
        return stored

    async def spy_checked(session: Any, *args: Any) -> Any:
        raw = (await (await session.connection()).get_raw_connection()).driver_connection._conn
        seen.append(("ordinary", raw.in_transaction, held_turn(session) is not None))
        return await checked(session, *args)

    remember_principals(client)
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, BODY).status_code == 201
    monkeypatch.setattr(service, "insert_guarded", spy_guarded)
    monkeypatch.setattr(service, "_submit_checked", spy_checked)
    assert post(client, org, survey_id, BODY).status_code == 201
    before = written(database_url)
    refused = post(client, org, survey_id, {**BODY, "unit_code": "NOPE"})
    assert refused.status_code == 422, refused.text
    assert written(database_url) == before
    assert seen == [("guarded", True, True), ("guarded", False, False), ("ordinary", True, True)]

    # The job's INSERT fails after the response's: both are rolled back.
    assert post(client, org, survey_id, BODY).status_code == 201  # known again after the refusal
    before = written(database_url)
    statements = fast_submit._sqlite_statements

    def failing(*args: Any) -> Any:
        response, _job = statements(*args)
        return response, fast_submit._Raw("INSERT INTO no_such_table VALUES (1)", (), {}, ())

    monkeypatch.setattr(fast_submit, "_sqlite_statements", failing)
    failed = post(client, org, survey_id, BODY)  # an OperationalError, answered as the database's
    assert (failed.status_code, failed.headers["content-type"]) == (503, "application/problem+json")
    assert written(database_url) == before
    monkeypatch.setattr(fast_submit, "_sqlite_statements", statements)
    assert post(client, org, survey_id, BODY).status_code == 201
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert rows(database_url, "SELECT count(*) FROM responses") == [(4,)]
    stored_jobs = "SELECT status FROM outbox_jobs WHERE name = 'collection.response_stored'"
    assert rows(database_url, stored_jobs) == [("done",)] * 4
