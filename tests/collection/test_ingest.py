"""Submitting responses on both databases: exact storage, every refusal with
its paths and nothing left behind, one pipeline job per stored response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import FULL_ANSWERS, make_survey, rows, written
from tests.factories import Org, make_org

PROBLEM = "application/problem+json"


def post(
    client: TestClient, org: Org, survey_id: str, body: dict[str, Any], who: str = "store", **headers: str
) -> Any:
    return client.post(
        f"/api/v1/surveys/{survey_id}/responses", json=body, headers={**org.auth(who), **headers}
    )


def test_submit_stores_exactly_what_was_sent_and_one_job(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    body = {
        "answers": {**FULL_ANSWERS, "nps": 3, "why": "<script>alert('x')</script> & \"太慢\""},
        "unit_code": "SH001",
        "channel": "sms",
        "touchpoint": "checkout",
        "language": "en",
        "submitted_at": "2026-03-01T08:30:00+08:00",
        "contact": {"email": "li@example.com", "external_id": "C-42"},
        "embedded": {"order_no": "A-1001"},
    }
    response = post(client, org, survey_id, body, **{"Idempotency-Key": "k1"})
    assert response.status_code == 201, response.text
    stored = response.json()
    received_at = stored.pop("received_at")
    response_id = stored.pop("id")
    assert stored == {
        "survey_id": survey_id,
        "survey_version": 1,
        "unit_code": "SH001",
        "channel": "sms",
        "touchpoint": "checkout",
        "language": "en",
        "submitted_at": "2026-03-01T00:30:00Z",
        "answers": body["answers"],
        "embedded": {"order_no": "A-1001", "region": "cn"},
        "contact": {"email": "li@example.com", "external_id": "C-42"},
        "source": "api",
        "status": "complete",
        "resume_page": None,
        "updated_at": None,
        "link_id": None,
    }
    fetched = client.get(f"/api/v1/responses/{response_id}", headers=org.auth("east")).json()
    assert fetched == {**stored, "id": response_id, "received_at": received_at}
    assert fetched["answers"]["why"] == "<script>alert('x')</script> & \"太慢\""
    jobs = rows(database_url, "SELECT name, status FROM outbox_jobs ORDER BY id")
    assert jobs == [("collection.response_stored", "done"), ("collection.response_stored.background", "done")]
    assert rows(database_url, "SELECT unit_id, tenant_id FROM responses") == [
        (org.unit_ids["SH001"], org.tenant_id)
    ]

    replay = post(client, org, survey_id, body, **{"Idempotency-Key": "k1"})
    assert replay.status_code == 200
    assert replay.json()["id"] == response_id
    assert written(database_url) == {"responses": 1, "outbox_jobs": 1, "idempotency_keys": 1}


def test_every_fault_is_reported_with_its_path_and_nothing_is_written(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    before = written(database_url)
    answers = {
        "nps": 11,
        "csat": 0,
        "ces": 2.5,
        "stars": 5,
        "via": "fax",
        "liked": ["a", "b", "zz"],
        "order": ["x", "y"],
        "grid": {"r1": 4, "r9": 1},
        "code": "abcd",
        "age": 17,
        "visit": "2025-12-31",
        "mail": "not-an-email",
        "tel": "12",
        "ok": "yes",
        "sq": {"expectation": 8, "perception": 0},
        "ghost": 1,
    }
    body = {"answers": answers, "unit_code": "GZ001", "embedded": {"secret": "x"}, "language": "fr"}
    response = post(client, org, survey_id, body, **{"Idempotency-Key": "bad"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"path": "answers.ghost", "message": "'ghost' is not a question of this survey"},
        {"path": "answers.nps", "message": "must be from 0 to 10"},
        {"path": "answers.csat", "message": "must be from 1 to 5"},
        {"path": "answers.ces", "message": "must be a whole number from 1 to 7"},
        {"path": "answers.stars", "message": "must be from 1 to 4"},
        {"path": "answers.via", "message": "'fax' is not one of the choices"},
        {"path": "answers.liked[2]", "message": "'zz' is not one of the choices"},
        {"path": "answers.liked", "message": "allows at most 2 picks"},
        {"path": "answers.order", "message": "must rank every choice exactly once: x, y, z"},
        {"path": "answers.grid.r1", "message": "must be one of [1, 2, 3]"},
        {"path": "answers.grid.r9", "message": "'r9' is not a row of this matrix"},
        {"path": "answers.code", "message": "does not match the expected format"},
        {"path": "answers.age", "message": "must be at least 18"},
        {"path": "answers.visit", "message": "must be on or after 2026-01-01"},
        {"path": "answers.mail", "message": "must be an email address"},
        {"path": "answers.tel", "message": "must be a phone number"},
        {"path": "answers.ok", "message": "must be true or false"},
        {"path": "answers.sq.expectation", "message": "must be from 1 to 7"},
        {"path": "answers.sq.perception", "message": "must be from 1 to 7"},
        {"path": "embedded.secret", "message": "'secret' is not an embedded field of this survey"},
        {"path": "unit_code", "message": "No unit 'GZ001'."},
        {"path": "language", "message": "must be one of zh-CN, en"},
    ]
    assert written(database_url) == before


def test_required_questions_follow_display_logic(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    assert post(client, org, survey_id, {"answers": {"nps": 9}, "unit_code": "SH001"}).status_code == 201
    refused = post(client, org, survey_id, {"answers": {"nps": 6}, "unit_code": "SH001"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"path": "answers.why", "message": "is required"}]
    missing = post(client, org, survey_id, {"answers": {"why": "", "csat": 4}, "unit_code": "SH001"})
    assert missing.json()["errors"] == [{"path": "answers.nps", "message": "is required"}]
    too_long = post(client, org, survey_id, {"answers": {"nps": 1, "why": "x" * 51}, "unit_code": "SH001"})
    assert too_long.json()["errors"] == [{"path": "answers.why", "message": "is longer than 50 characters"}]
    assert written(database_url)["responses"] == 1


def test_only_published_surveys_of_my_tenant_take_responses(
    client: TestClient, org: Org, database_url: str
) -> None:
    draft = make_survey(client, org, publish=False)
    closed = make_survey(client, org, close=True)
    other = make_org(database_url, "other", "other.test")
    foreign = make_survey(client, other)
    before = written(database_url)
    body = {"answers": {"nps": 9}, "unit_code": "SH001"}
    assert post(client, org, draft, body).json()["code"] == "survey_not_published"
    assert post(client, org, draft, body).status_code == 409
    assert post(client, org, closed, body).json()["code"] == "survey_closed"
    assert post(client, org, closed, body).status_code == 409
    assert post(client, org, foreign, body).status_code == 404
    assert post(client, org, "01ARZ3NDEKTSV4RRFFQ69G5FAV", body).status_code == 404
    assert post(client, org, "x" * 300, body).status_code == 404
    assert written(database_url) == before


def test_units_must_be_within_my_write_reach(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    before = written(database_url)
    answers = {"answers": {"nps": 10}}
    assert post(client, org, survey_id, {**answers, "unit_code": "SH002"}).json()["errors"] == [
        {"path": "unit_code", "message": "No unit 'SH002'."}
    ]
    assert post(client, org, survey_id, {**answers, "unit_code": "NOPE"}).json()["errors"] == [
        {"path": "unit_code", "message": "No unit 'NOPE'."}
    ]
    assert post(client, org, survey_id, answers).json()["errors"] == [
        {"path": "unit_code", "message": "is required: you may record responses for your units only"}
    ]
    assert post(client, org, survey_id, {**answers, "unit_code": "SH001"}, who="agent").status_code == 403
    assert post(client, org, survey_id, {**answers, "unit_code": "SH001"}, who="analyst").status_code == 403
    assert written(database_url) == before
    assert post(client, org, survey_id, {**answers, "unit_code": "SH002"}, who="east").status_code == 201
    assert post(client, org, survey_id, answers, who="cx").json()["unit_code"] is None


def test_submitted_at_and_body_shape(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    before = written(database_url)
    base = {"answers": {"nps": 10}, "unit_code": "SH001"}
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    assert post(client, org, survey_id, {**base, "submitted_at": future}).json()["errors"] == [
        {"path": "submitted_at", "message": "may not be in the future"}
    ]
    naive = post(client, org, survey_id, {**base, "submitted_at": "2026-01-01T10:00:00"})
    assert naive.status_code == 422
    assert [e["path"] for e in naive.json()["errors"]] == ["submitted_at"]
    shape = post(client, org, survey_id, {**base, "answers": [1], "contact": {"email": "x", "fax": "1"}})
    assert shape.status_code == 422
    assert sorted(e["path"] for e in shape.json()["errors"]) == ["answers", "contact.email", "contact.fax"]
    nul = post(client, org, survey_id, {**base, "answers": {"nps": 2, "why": "a\u0000b"}})
    assert nul.json()["errors"] == [{"path": "answers.why", "message": "may not contain NUL characters"}]
    assert written(database_url) == before
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert post(client, org, survey_id, {**base, "submitted_at": soon}).status_code == 201


def test_numbers_json_cannot_hold_are_refused(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    before = written(database_url)
    for number in ("NaN", "Infinity", "-Infinity"):
        body = '{"answers": {"nps": 9}, "embedded": {"order_no": ' + number + "}}"
        headers = {**org.auth("cx"), "content-type": "application/json"}
        refused = client.post(f"/api/v1/surveys/{survey_id}/responses", content=body, headers=headers)
        assert refused.status_code == 422, number
        assert [e["path"] for e in refused.json()["errors"]] == ["embedded.order_no"], number
    assert written(database_url) == before
