"""Audited edits of stored responses: merged, re-checked, revisioned, audited, handed on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import subscribe_edits, unsubscribe_edits
from tests.collection.support import FULL_ANSWERS, make_survey, rows
from tests.factories import Org, make_org
from tests.identity.support import engine_for

REASON = "The customer called to correct the score"


def submit(client: TestClient, org: Org, survey_id: str, unit_code: str | None, **answers: Any) -> str:
    body: dict[str, Any] = {"answers": {**FULL_ANSWERS, **answers}}
    if unit_code is not None:
        body["unit_code"] = unit_code
    response = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth("cx"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def responses(client: TestClient, org: Org) -> dict[str, str]:
    survey_id = make_survey(client, org)
    return {
        "survey": survey_id,
        "SH001": submit(client, org, survey_id, "SH001"),
        "SH002": submit(client, org, survey_id, "SH002"),
        "GZ001": submit(client, org, survey_id, "GZ001"),
        "none": submit(client, org, survey_id, None),
    }


@pytest.fixture
def edits_seen() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def seen(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        calls.append((response_id, payload))

    subscribe_edits("tests.edits")(seen)
    yield calls
    unsubscribe_edits("tests.edits")


def patch(client: TestClient, org: Org, response_id: str, who: str = "store", **body: Any) -> Any:
    body.setdefault("reason", REASON)
    return client.patch(f"/api/v1/responses/{response_id}", json=body, headers=org.auth(who))


def left_behind(database_url: str) -> dict[str, Any]:
    """What a refused edit must not change."""
    return {
        "responses": rows(
            database_url, "SELECT id, answers, revision, updated_at FROM responses ORDER BY id"
        ),
        "revisions": rows(database_url, "SELECT count(*) FROM response_revisions"),
        "audit": rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'response.edited'"),
        "jobs": rows(database_url, "SELECT count(*) FROM outbox_jobs"),
        "keys": rows(database_url, "SELECT count(*) FROM idempotency_keys"),
    }


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_an_edit_is_merged_revisioned_audited_and_handed_on(
    client: TestClient,
    org: Org,
    responses: dict[str, str],
    database_url: str,
    edits_seen: list[tuple[str, dict[str, Any]]],
) -> None:
    response_id = responses["SH001"]
    edited = patch(client, org, response_id, answers={"nps": 3, "why": "太慢了", "csat": None})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    expected_answers = {key: value for key, value in FULL_ANSWERS.items() if key != "csat"}
    expected_answers.update({"nps": 3, "why": "太慢了"})
    assert body["response"]["answers"] == expected_answers
    revision = body["revision"]
    assert revision == {
        "id": revision["id"],
        "response_id": response_id,
        "revision": 1,
        "edited_at": revision["edited_at"],
        "edited_by": org.user_ids["store"],
        "reason": REASON,
        "before": {"nps": 9, "why": None, "csat": 5},
        "after": {"nps": 3, "why": "太慢了", "csat": None},
    }
    assert revision["edited_at"].endswith("Z") or revision["edited_at"].endswith("+00:00")
    assert client.get(f"/api/v1/responses/{response_id}", headers=org.auth("store")).json()["answers"] == (
        expected_answers
    )
    assert rows(database_url, f"SELECT revision FROM responses WHERE id = '{response_id}'") == [(1,)]
    events = rows(
        database_url,
        "SELECT actor_user_id, target_type, target_id, details FROM audit_events "
        "WHERE action = 'response.edited'",
    )
    assert [(e[0], e[1], e[2], as_json(e[3])) for e in events] == [
        (
            org.user_ids["store"],
            "response",
            response_id,
            {
                "survey_id": responses["survey"],
                "revision": 1,
                "questions": ["nps", "why", "csat"],
                "reason": REASON,
            },
        )
    ]
    jobs = rows(database_url, "SELECT name, payload, status FROM outbox_jobs WHERE name LIKE '%edited'")
    payload = {
        "response_id": response_id,
        "survey_id": responses["survey"],
        "tenant_id": org.tenant_id,
        "revision": 1,
    }
    assert [(j[0], as_json(j[1]), j[2]) for j in jobs] == [("collection.response_edited", payload, "done")]
    assert edits_seen == [(response_id, payload)]

    again = patch(client, org, response_id, who="east", answers={"nps": 4}, reason="Second call")
    assert again.json()["revision"]["revision"] == 2
    listed = client.get(f"/api/v1/responses/{response_id}/revisions", headers=org.auth("analyst")).json()
    assert [
        (r["revision"], r["reason"], r["edited_by"], r["before"], r["after"]) for r in listed["items"]
    ] == [
        (1, REASON, org.user_ids["store"], revision["before"], revision["after"]),
        (2, "Second call", org.user_ids["east"], {"nps": 3}, {"nps": 4}),
    ]
    assert listed["next_cursor"] is None
    first_page = client.get(
        f"/api/v1/responses/{response_id}/revisions?limit=1", headers=org.auth("store")
    ).json()
    assert [r["revision"] for r in first_page["items"]] == [1]
    rest = client.get(
        f"/api/v1/responses/{response_id}/revisions?limit=1&cursor={first_page['next_cursor']}",
        headers=org.auth("store"),
    ).json()
    assert [r["revision"] for r in rest["items"]] == [2]


def test_a_refused_edit_changes_nothing(
    client: TestClient, org: Org, responses: dict[str, str], database_url: str
) -> None:
    response_id = responses["SH001"]
    before = left_behind(database_url)
    invalid = patch(client, org, response_id, answers={"nps": 3, "stars": 9, "nope": 1})
    assert invalid.status_code == 422, invalid.text
    assert invalid.json()["errors"] == [
        {"path": "answers.nope", "message": "'nope' is not a question of this survey"},
        {"path": "answers.stars", "message": "must be from 1 to 4"},
    ]
    # Valid answers, but the lower score now shows a required question left empty.
    required = client.patch(
        f"/api/v1/responses/{response_id}",
        json={"answers": {"nps": 3}, "reason": REASON},
        headers={**org.auth("store"), "Idempotency-Key": "k2"},
    )
    assert required.status_code == 422
    assert required.json()["errors"] == [{"path": "answers.why", "message": "is required"}]
    for body, path in (
        ({"answers": {"nps": 8}}, "reason"),
        ({"answers": {"nps": 8}, "reason": ""}, "reason"),
        ({"answers": {"nps": 8}, "reason": "   "}, "reason"),
        ({"answers": {"nps": 8}, "reason": "x" * 501}, "reason"),
        ({"answers": {"nps": 8}, "reason": "a\x00b"}, "reason"),
        ({"answers": {}, "reason": REASON}, "answers"),
        ({"answers": {"nps": 8}, "reason": REASON, "unit_code": "SH002"}, "unit_code"),
    ):
        refused = client.patch(f"/api/v1/responses/{response_id}", json=body, headers=org.auth("store"))
        assert refused.status_code == 422, (body, refused.text)
        assert [e["path"] for e in refused.json()["errors"]] == [path], body
    assert left_behind(database_url) == before


def test_roles_and_scope(client: TestClient, org: Org, responses: dict[str, str], database_url: str) -> None:
    before = left_behind(database_url)
    for who in ("analyst", "agent"):
        refused = patch(client, org, responses["SH001"], who=who, answers={"nps": 8})
        assert refused.status_code == 403, who
        assert refused.json()["code"] == "permission_denied"
    missing = patch(client, org, "01ARZ3NDEKTSV4RRFFQ69G5FAV", answers={"nps": 8})
    assert missing.status_code == 404
    for who, response_id in (("store", "SH002"), ("east", "GZ001"), ("east", "none"), ("store", "none")):
        outside = patch(client, org, responses[response_id], who=who, answers={"nps": 8})
        assert outside.status_code == 404, (who, response_id)
        assert {**outside.json(), "instance": ""} == {**missing.json(), "instance": ""}
        listed = client.get(f"/api/v1/responses/{responses[response_id]}/revisions", headers=org.auth(who))
        assert listed.status_code == 404
        assert listed.json()["code"] == "response_not_found"
    assert missing.json()["code"] == "response_not_found"
    other = make_org(database_url, slug="globex", email_domain="globex.test")
    before = left_behind(database_url)
    foreign = client.patch(
        f"/api/v1/responses/{responses['SH001']}",
        json={"answers": {"nps": 8}, "reason": REASON},
        headers=other.auth("admin"),
    )
    assert foreign.status_code == 404
    assert {**foreign.json(), "instance": ""} == {**missing.json(), "instance": ""}
    assert (
        client.get(
            f"/api/v1/responses/{responses['SH001']}/revisions", headers=other.auth("admin")
        ).status_code
        == 404
    )
    assert left_behind(database_url) == before
    for who, response_id in (("east", "SH002"), ("cx", "GZ001"), ("admin", "none"), ("store", "SH001")):
        allowed = patch(client, org, responses[response_id], who=who, answers={"nps": 8})
        assert allowed.status_code == 200, (who, response_id, allowed.text)
        assert allowed.json()["revision"]["after"] == {"nps": 8}
    for who in ("agent", "analyst"):
        readable = client.get(f"/api/v1/responses/{responses['SH001']}/revisions", headers=org.auth(who))
        assert [r["revision"] for r in readable.json()["items"]] == [1], who


def test_partial_responses_cannot_be_edited(
    client: TestClient, org: Org, responses: dict[str, str], database_url: str
) -> None:
    response_id = responses["SH001"]
    with engine_for(database_url) as engine, engine.begin() as conn:
        conn.execute(text("UPDATE responses SET status = 'partial' WHERE id = :id"), {"id": response_id})
    before = left_behind(database_url)
    refused = patch(client, org, response_id, answers={"nps": 8})
    assert refused.status_code == 409
    assert refused.json()["code"] == "response_not_complete"
    assert left_behind(database_url) == before


def test_an_edit_that_changes_nothing_writes_nothing(
    client: TestClient, org: Org, responses: dict[str, str], database_url: str
) -> None:
    before = left_behind(database_url)
    same = patch(client, org, responses["SH001"], answers={"nps": 9, "why": None})
    assert same.status_code == 200
    assert same.json()["revision"] is None
    assert same.json()["response"]["answers"] == FULL_ANSWERS
    assert left_behind(database_url) == before


def test_idempotency_key_replays_the_first_edit(
    client: TestClient, org: Org, responses: dict[str, str], database_url: str
) -> None:
    response_id = responses["SH001"]
    headers = {**org.auth("store"), "Idempotency-Key": "edit-1"}
    body = {"answers": {"nps": 8}, "reason": REASON}
    first = client.patch(f"/api/v1/responses/{response_id}", json=body, headers=headers)
    replay = client.patch(f"/api/v1/responses/{response_id}", json=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert rows(database_url, "SELECT revision FROM response_revisions") == [(1,)]
    reused = client.patch(
        f"/api/v1/responses/{response_id}", json={**body, "answers": {"nps": 7}}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_exports_show_the_edited_answers(client: TestClient, org: Org, responses: dict[str, str]) -> None:
    patch(client, org, responses["SH001"], answers={"nps": 10})
    exported = client.get(
        f"/api/v1/surveys/{responses['survey']}/responses/export?unit_code=SH001", headers=org.auth("store")
    )
    lines = exported.content.decode("utf-8-sig").splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    assert (first[header.index("nps")], first[header.index("revision")]) == ("10", "1")


def test_concurrent_edits_take_one_revision_each(
    client: TestClient, org: Org, responses: dict[str, str], database_url: str
) -> None:
    response_id = responses["SH001"]

    def edit(score: int) -> int:
        answer = patch(client, org, response_id, who="cx", answers={"nps": score}, reason=f"call {score}")
        return int(answer.status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(edit, [7, 8, 10, 6]))
    # 6 would make "why" required, so that one is refused; the others each get a revision of their own.
    assert sorted(statuses) == [200, 200, 200, 422]
    revisions = rows(database_url, "SELECT revision FROM response_revisions ORDER BY revision")
    assert revisions == [(1,), (2,), (3,)]
    assert rows(database_url, f"SELECT revision FROM responses WHERE id = '{response_id}'") == [(3,)]
    chain = rows(database_url, "SELECT before, after FROM response_revisions ORDER BY revision")
    for (_, after), (before, _) in pairwise(chain):
        assert as_json(after)["nps"] == as_json(before)["nps"]
