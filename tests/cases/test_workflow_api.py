"""The cases API on both databases: states and who may move them, the
timeline, comments and internal notes (escaped), assignment, bulk actions,
manual creation, scope, and every refusal leaving nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cases.support import Clock, open_one, recording
from tests.collection.support import rows
from tests.factories import Org
from tests.identity.support import assert_problem

SCRIPT = "<script>alert('x')</script>"


def move(client: TestClient, org: Org, case_id: str, to: str, who: str = "agent", **extra: Any) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/transitions", json={"to": to, **extra}, headers=org.auth(who)
    )


def written(database_url: str) -> tuple[Any, ...]:
    return (
        rows(database_url, "SELECT count(*) FROM case_entries")[0][0],
        rows(database_url, "SELECT status, owner_id, updated_at FROM cases ORDER BY number"),
    )


def test_the_whole_loop_writes_the_timeline(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    case_id, _ = open_one(database_url, org)
    with recording() as seen:
        clock.advance(minutes=5)
        answer = move(client, org, case_id, "acknowledged", comment="在处理")
        assert answer.status_code == 200, answer.text
        assert answer.json()["allowed_transitions"] == ["in_progress", "resolved"]
        clock.advance(minutes=5)
        assert move(client, org, case_id, "in_progress").status_code == 200
        clock.advance(minutes=50)
        resolved = move(client, org, case_id, "resolved", comment="已致电顾客")
        assert resolved.status_code == 200
        # Agents do not close; the store manager does.
        assert resolved.json()["allowed_transitions"] == ["in_progress"]
        assert_problem(move(client, org, case_id, "closed"), 403, "permission_denied")
        clock.advance(minutes=1)
        closed = move(client, org, case_id, "closed", who="store")
        assert closed.status_code == 200
    assert [event for event, _ in seen] == ["case.updated", "case.updated", "case.resolved", "case.updated"]
    detail = client.get(f"/api/v1/cases/{case_id}", headers=org.auth("agent")).json()
    assert detail["status"] == "closed"
    assert detail["acknowledged_at"] == "2026-12-01T02:05:00Z"
    assert detail["resolved_at"] == "2026-12-01T03:00:00Z"
    assert detail["closed_at"] == "2026-12-01T03:01:00Z"
    steps = [
        (e["kind"], e["actor"], e["from_value"], e["to_value"], e["body"], e["at"])
        for e in detail["timeline"]
    ]
    assert steps == [
        ("created", "alert", None, "new", None, "2026-12-01T02:00:00Z"),
        ("assigned", "auto", None, org.user_ids["agent"], None, "2026-12-01T02:00:00Z"),
        ("transition", "Agent", "new", "acknowledged", "在处理", "2026-12-01T02:05:00Z"),
        ("transition", "Agent", "acknowledged", "in_progress", None, "2026-12-01T02:10:00Z"),
        ("transition", "Agent", "in_progress", "resolved", "已致电顾客", "2026-12-01T03:00:00Z"),
        ("transition", "Store", "resolved", "closed", None, "2026-12-01T03:01:00Z"),
    ]
    # Reopening a closed case is a manager's; it gets a fresh resolve deadline.
    clock.advance(hours=1)
    reopened = move(client, org, case_id, "in_progress", who="store")
    assert reopened.status_code == 200
    assert reopened.json()["resolve_due_at"] == "2026-12-01T12:01:00Z"  # high: 480 minutes
    assert reopened.json()["closed_at"] is None


def test_a_transition_not_allowed_from_the_state_is_a_409_and_writes_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    case_id, _ = open_one(database_url, org)
    before = written(database_url)
    assert_problem(move(client, org, case_id, "closed", who="admin"), 409, "transition_not_allowed")
    assert_problem(move(client, org, case_id, "new", who="admin"), 409, "transition_not_allowed")
    assert_problem(move(client, org, case_id, "done"), 422, "validation_failed")
    assert written(database_url) == before


def test_scope_out_of_reach_is_404_and_read_only_is_403(
    client: TestClient, org: Org, database_url: str
) -> None:
    case_id, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    before = written(database_url)
    # East's manager and SH001's people cannot see a Guangzhou case at all.
    for who in ("east", "store", "agent"):
        assert_problem(client.get(f"/api/v1/cases/{case_id}", headers=org.auth(who)), 404, "case_not_found")
        assert_problem(move(client, org, case_id, "acknowledged", who=who), 404, "case_not_found")
    ids = [c["id"] for c in client.get("/api/v1/cases", headers=org.auth("east")).json()["items"]]
    assert ids == []
    assert client.get(f"/api/v1/cases/{case_id}", headers=org.auth("cx")).status_code == 200
    # The analyst of East reads East's cases but works none.
    sh_case, _ = open_one(database_url, org)
    assert client.get(f"/api/v1/cases/{sh_case}", headers=org.auth("analyst")).status_code == 200
    assert_problem(move(client, org, sh_case, "acknowledged", who="analyst"), 403, "permission_denied")
    assert written(database_url)[0] == before[0] + 2  # only the second case's own entries


def test_an_agent_cannot_move_a_colleagues_case(client: TestClient, org: Org, database_url: str) -> None:
    case_id, _ = open_one(database_url, org, owner_id=org.user_ids["store"])
    assert_problem(move(client, org, case_id, "acknowledged"), 403, "not_case_owner")
    assert move(client, org, case_id, "acknowledged", who="store").status_code == 200


def test_comments_and_internal_notes_are_stored_verbatim_and_notes_hidden_from_readers(
    client: TestClient, org: Org, database_url: str
) -> None:
    case_id, _ = open_one(database_url, org)
    made = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"body": SCRIPT, "internal": False},
        headers=org.auth("agent"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["body"] == SCRIPT and made.json()["kind"] == "comment"
    note = client.post(
        f"/api/v1/cases/{case_id}/comments",
        json={"body": "VIP 客户", "internal": True},
        headers=org.auth("store"),
    )
    assert note.json()["internal"] is True and note.json()["kind"] == "note"
    for_agent = client.get(f"/api/v1/cases/{case_id}", headers=org.auth("agent")).json()["timeline"]
    for_analyst = client.get(f"/api/v1/cases/{case_id}", headers=org.auth("analyst")).json()["timeline"]
    assert [e["kind"] for e in for_agent][-2:] == ["comment", "note"]
    assert [e["kind"] for e in for_analyst][-1] == "comment"
    before = written(database_url)
    assert_problem(
        client.post(f"/api/v1/cases/{case_id}/comments", json={"body": "hm"}, headers=org.auth("analyst")),
        403,
        "permission_denied",
    )
    assert_problem(
        client.post(f"/api/v1/cases/{case_id}/comments", json={"body": ""}, headers=org.auth("agent")),
        422,
        "validation_failed",
    )
    assert written(database_url) == before


def test_assignment_by_managers_and_taking_an_unowned_case(
    client: TestClient, org: Org, database_url: str
) -> None:
    case_id, _ = open_one(database_url, org, unit_id=org.unit_ids["SH002"])  # East's manager owns it
    with recording() as seen:
        given = client.post(
            f"/api/v1/cases/{case_id}/assignment",
            json={"owner_id": org.user_ids["store"], "comment": "请跟进"},
            headers=org.auth("east"),
        )
    # The SH001 store manager does not work SH002: refused, nothing written.
    assert_problem(given, 422, "owner_not_eligible")
    assert seen == []
    unassigned = client.post(
        f"/api/v1/cases/{case_id}/assignment", json={"owner_id": None}, headers=org.auth("east")
    )
    assert unassigned.status_code == 200 and unassigned.json()["owner"] is None
    sh001, _ = open_one(database_url, org)
    with recording() as seen:
        moved = client.post(
            f"/api/v1/cases/{sh001}/assignment",
            json={"owner_id": org.user_ids["store"]},
            headers=org.auth("east"),
        )
    assert moved.status_code == 200
    assert moved.json()["owner"] == {"id": org.user_ids["store"], "name": "Store"}
    assert [(e, p["owner_id"], p["previous_owner_id"]) for e, p in seen] == [
        ("case.assigned", org.user_ids["store"], org.user_ids["agent"])
    ]
    # The agent may not hand the case back to themselves (it is owned).
    assert_problem(
        client.post(
            f"/api/v1/cases/{sh001}/assignment",
            json={"owner_id": org.user_ids["agent"]},
            headers=org.auth("agent"),
        ),
        403,
        "permission_denied",
    )


def test_bulk_acknowledge_reports_each_case(client: TestClient, org: Org, database_url: str) -> None:
    first, _ = open_one(database_url, org)
    second, _ = open_one(database_url, org)
    foreign, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    move(client, org, second, "acknowledged")
    answer = client.post(
        "/api/v1/cases/bulk",
        json={"ids": [first, second, foreign, first], "action": "transition", "to": "acknowledged"},
        headers=org.auth("store"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [
        {"id": first, "status": 200, "code": None},
        {"id": second, "status": 409, "code": "transition_not_allowed"},
        {"id": foreign, "status": 404, "code": "case_not_found"},
    ]
    statuses = rows(database_url, "SELECT id, status FROM cases")
    assert dict(statuses) == {first: "acknowledged", second: "acknowledged", foreign: "new"}
    assert_problem(
        client.post(
            "/api/v1/cases/bulk", json={"ids": [first], "action": "transition"}, headers=org.auth("store")
        ),
        422,
        "validation_failed",
    )


def test_manual_case_and_list_filters(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    made = client.post(
        "/api/v1/cases",
        json={"title": "电话投诉 " + SCRIPT, "priority": "urgent", "unit_code": "SH001", "comment": "来电"},
        headers=org.auth("store"),
    )
    assert made.status_code == 201, made.text
    case = made.json()
    assert (case["number"], case["source"], case["title"]) == (1, "manual", "电话投诉 " + SCRIPT)
    assert case["owner"]["id"] == org.user_ids["agent"]
    assert case["ack_due_at"] == "2026-12-01T02:30:00Z"
    assert [e["kind"] for e in case["timeline"]] == ["created", "assigned", "comment"]
    other, _ = open_one(database_url, org, unit_id=org.unit_ids["SH002"], priority="low")

    def listed(who: str, **params: Any) -> list[str]:
        answer = client.get("/api/v1/cases", params=params, headers=org.auth(who))
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()["items"]]

    assert listed("east") == [other, case["id"]]
    assert listed("agent", mine="true") == [case["id"]]
    assert listed("east", mine="true") == [other]
    assert listed("east", unit="SH001") == [case["id"]]
    assert listed("east", priority="low") == [other]
    assert listed("east", status="open") == [other, case["id"]]
    assert listed("east", overdue="true") == []
    clock.advance(minutes=31)
    assert listed("east", overdue="true") == [case["id"]]
    page = client.get("/api/v1/cases", params={"limit": 1}, headers=org.auth("east")).json()
    assert [c["id"] for c in page["items"]] == [other] and page["next_cursor"]
    rest = client.get(
        "/api/v1/cases", params={"limit": 1, "cursor": page["next_cursor"]}, headers=org.auth("east")
    ).json()
    assert [c["id"] for c in rest["items"]] == [case["id"]] and rest["next_cursor"] is None
    assert_problem(
        client.get("/api/v1/cases", params={"unit": "GZ001"}, headers=org.auth("east")), 404, "unit_not_found"
    )
    assert_problem(
        client.get("/api/v1/cases", params={"cursor": "bad"}, headers=org.auth("east")), 422, "invalid_cursor"
    )
    assert_problem(
        client.post("/api/v1/cases", json={"title": "x", "unit_code": "GZ001"}, headers=org.auth("store")),
        404,
        "unit_not_found",
    )
    assert_problem(
        client.post("/api/v1/cases", json={"title": "x", "unit_code": "SH001"}, headers=org.auth("analyst")),
        403,
        "permission_denied",
    )
    assert rows(database_url, "SELECT count(*) FROM cases") == [(2,)]
