"""The audit trail: what is written, who may read it, and that it cannot be
rewritten, on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cxloop.identity.logins import StartedSession
from cxloop.identity.models import AuditEvent
from cxloop.kit.errors import AppError
from tests.factories import Org
from tests.identity.support import audit_rows, count, engine_for, try_login

PASSWORD = "correct horse battery"


def _events(client: TestClient, org: Org, action: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/audit-events", params={"action": action}, headers=org.auth("admin"))
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def _make_person(client: TestClient, org: Org) -> str:
    response = client.post(
        "/api/v1/users",
        json={
            "email": "Li.Na@Acme.test",
            "name": "Li Na",
            "role": "agent",
            "unit_code": "SH002",
            "password": PASSWORD,
        },
        headers=org.auth("admin"),
    )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


def test_user_created(client: TestClient, org: Org) -> None:
    user_id = _make_person(client, org)
    [event] = [e for e in _events(client, org, "user.created") if e["target_id"] == user_id]
    assert event["actor_user_id"] == org.user_ids["admin"]
    assert event["actor"] == "admin@acme.test"
    assert event["target_type"] == "user"
    assert event["details"] == {"email": "li.na@acme.test", "role": "agent", "unit_code": "SH002"}


def test_login_success_and_failure(client: TestClient, org: Org, database_url: str) -> None:
    user_id = _make_person(client, org)
    assert isinstance(try_login(database_url, "li.na@acme.test", "wrong password"), AppError)
    assert isinstance(try_login(database_url, "nobody@acme.test", "wrong password"), AppError)
    started = try_login(database_url, " LI.NA@acme.test ", PASSWORD)
    assert isinstance(started, StartedSession)
    assert started.user.id == user_id

    failed = _events(client, org, "login.failed")
    # Newest first; an unknown address is recorded, though it has no tenant to show it in.
    assert [(e["target_id"], e["details"], e["actor"]) for e in failed] == [
        (user_id, {"reason": "bad_credentials"}, "li.na@acme.test"),
    ]
    assert [r["actor_label"] for r in audit_rows(database_url, "login.failed")] == [
        "li.na@acme.test",
        "nobody@acme.test",
    ]
    [succeeded] = _events(client, org, "login.succeeded")
    assert (succeeded["target_id"], succeeded["actor_user_id"], succeeded["ip"]) == (
        user_id,
        user_id,
        "10.0.0.1",
    )


def test_disabled_login_is_a_failure(client: TestClient, org: Org, database_url: str) -> None:
    user_id = _make_person(client, org)
    assert client.post(f"/api/v1/users/{user_id}/disable", headers=org.auth("admin")).status_code == 200
    result = try_login(database_url, "li.na@acme.test", PASSWORD)
    assert isinstance(result, AppError) and result.code == "bad_credentials"
    [event] = _events(client, org, "login.failed")
    assert event["details"] == {"reason": "disabled"}
    assert count(database_url, "user_sessions") == 0


def test_token_created_and_revoked(client: TestClient, org: Org) -> None:
    issued = client.post(
        "/api/v1/tokens", json={"name": "ci", "scopes": ["read"]}, headers=org.auth("east")
    ).json()
    [created] = [e for e in _events(client, org, "token.created") if e["target_id"] == issued["id"]]
    assert created["actor_user_id"] == org.user_ids["east"]
    assert created["details"] == {
        "name": "ci",
        "kind": "user",
        "scopes": ["read"],
        "user_id": org.user_ids["east"],
        "role": None,
    }
    assert issued["token"] not in str(created)
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=org.auth("east")).status_code == 200
    client.delete(f"/api/v1/tokens/{issued['id']}", headers=org.auth("east"))
    revoked = _events(client, org, "token.revoked")
    assert [(e["target_id"], e["actor_user_id"]) for e in revoked] == [(issued["id"], org.user_ids["east"])]


def test_user_disabled_and_enabled(client: TestClient, org: Org) -> None:
    target = org.user_ids["agent"]
    client.post(f"/api/v1/users/{target}/disable", headers=org.auth("admin"))
    client.post(f"/api/v1/users/{target}/disable", headers=org.auth("admin"))
    client.post(f"/api/v1/users/{target}/enable", headers=org.auth("admin"))
    # Repeating a state is not an event.
    assert [e["target_id"] for e in _events(client, org, "user.disabled")] == [target]
    assert [e["target_id"] for e in _events(client, org, "user.enabled")] == [target]


def test_role_changed(client: TestClient, org: Org) -> None:
    target = org.user_ids["analyst"]
    response = client.patch(
        f"/api/v1/users/{target}",
        json={"role": "unit_manager", "unit_code": "SOUTH"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["unit_code"]) == ("unit_manager", "SOUTH")
    [event] = _events(client, org, "role.changed")
    assert event["target_id"] == target
    assert event["details"] == {"before": [["analyst", "EAST"]], "after": ["unit_manager", "SOUTH"]}
    # Only the unit moves: still a change of scope, so still recorded.
    client.patch(f"/api/v1/users/{target}", json={"unit_code": "GZ001"}, headers=org.auth("admin"))
    latest = _events(client, org, "role.changed")[0]
    assert latest["details"] == {"before": [["unit_manager", "SOUTH"]], "after": ["unit_manager", "GZ001"]}


def test_name_change_is_not_a_role_change(client: TestClient, org: Org) -> None:
    client.patch(
        f"/api/v1/users/{org.user_ids['agent']}", json={"name": "Agent Smith"}, headers=org.auth("admin")
    )
    assert _events(client, org, "role.changed") == []
    [updated] = _events(client, org, "user.updated")
    assert updated["details"] == {"fields": ["name"]}


def test_filters_and_actor(client: TestClient, org: Org) -> None:
    client.post("/api/v1/tokens", json={"name": "a"}, headers=org.auth("east"))
    client.post("/api/v1/tokens", json={"name": "b"}, headers=org.auth("store"))
    response = client.get(
        "/api/v1/audit-events", params={"actor_user_id": org.user_ids["store"]}, headers=org.auth("admin")
    )
    assert [(e["action"], e["details"]["name"]) for e in response.json()["items"]] == [("token.created", "b")]


def test_refused_actions_write_no_event(client: TestClient, org: Org, database_url: str) -> None:
    before = count(database_url, "audit_events")
    client.post("/api/v1/users", json={"email": "x@acme.test", "role": "admin"}, headers=org.auth("cx"))
    client.post(f"/api/v1/users/{org.user_ids['agent']}/disable", headers=org.auth("east"))
    client.patch(
        f"/api/v1/users/{org.user_ids['admin']}",
        json={"role": "agent", "unit_code": "SH001"},
        headers=org.auth("admin"),
    )
    client.post(
        "/api/v1/users",
        json={"email": "east@acme.test", "role": "agent", "unit_code": "SH001"},
        headers=org.auth("admin"),
    )
    assert count(database_url, "audit_events") == before


def test_other_tenants_events_are_not_shown(client: TestClient, org: Org, database_url: str) -> None:
    from tests.factories import make_org

    other = make_org(database_url, slug="globex", email_domain="globex.test")
    mine = client.get("/api/v1/audit-events", params={"limit": 500}, headers=org.auth("admin")).json()[
        "items"
    ]
    theirs = client.get("/api/v1/audit-events", params={"limit": 500}, headers=other.auth("admin")).json()[
        "items"
    ]
    assert len(mine) == len(theirs) == 8 + 6 + 6
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}


# --- append-only ------------------------------------------------------------


@pytest.mark.parametrize("change", ["update", "delete", "orm_update", "orm_delete"])
def test_audit_events_cannot_be_changed(client: TestClient, org: Org, database_url: str, change: str) -> None:
    before = audit_rows(database_url)
    assert before
    with engine_for(database_url) as engine, Session(engine) as session:
        with pytest.raises(DBAPIError, match="append-only"):
            if change == "update":
                session.execute(update(AuditEvent).values(action="tampered"))
            elif change == "delete":
                session.execute(delete(AuditEvent))
            else:
                event = session.scalars(select(AuditEvent).limit(1)).one()
                if change == "orm_update":
                    event.action = "tampered"
                else:
                    session.delete(event)
                session.flush()
        session.rollback()
    assert audit_rows(database_url) == before


def test_audit_events_can_be_appended(database_url: str, org: Org) -> None:
    from cxloop.kit.clock import utc_now
    from cxloop.kit.ids import new_id

    before = count(database_url, "audit_events")
    with engine_for(database_url) as engine, Session(engine) as session:
        session.add(
            AuditEvent(
                id=new_id(),
                tenant_id=org.tenant_id,
                occurred_at=utc_now(),
                action="data.exported",
                details={"rows": 3},
            )
        )
        session.commit()
    assert count(database_url, "audit_events") == before + 1
