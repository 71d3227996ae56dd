"""Creating and changing people and units through the API: every refusal is a
clear 4xx problem and leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org
from tests.identity.support import add_user, assert_problem, audit_rows, count, counts, try_login

GOOD = {
    "email": "new.person@acme.test",
    "name": "New Person",
    "password": "correct horse 1",
    "role": "agent",
    "unit_code": "SH002",
}


def test_create_user(client: TestClient, org: Org, database_url: str) -> None:
    response = client.post(
        "/api/v1/users", json={**GOOD, "email": " New.Person@ACME.test "}, headers=org.auth("admin")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("email", "name", "role", "unit_code", "is_active", "locale")} == {
        "email": "new.person@acme.test",
        "name": "New Person",
        "role": "agent",
        "unit_code": "SH002",
        "is_active": True,
        "locale": None,
    }
    assert body["memberships"] == [{"role": "agent", "unit_code": "SH002", "unit_name": "上海徐家汇店"}]
    assert "password" not in body and "password_hash" not in str(body)
    assert client.get(f"/api/v1/users/{body['id']}", headers=org.auth("store")).status_code == 404
    assert client.get(f"/api/v1/users/{body['id']}", headers=org.auth("east")).json() == body
    assert not isinstance(try_login(database_url, "new.person@acme.test", "correct horse 1"), Exception)


@pytest.mark.parametrize(
    ("change", "status", "code", "path"),
    [
        ({"password": "short"}, 422, "weak_password", "password"),
        ({"password": "x" * 257}, 422, "validation_failed", "password"),
        ({"role": "superuser"}, 422, "validation_failed", "role"),
        ({"role": "unit_manager", "unit_code": None}, 422, "unit_required", "unit_code"),
        ({"role": "analyst", "unit_code": None}, 422, "unit_required", "unit_code"),
        ({"unit_code": "NOPE"}, 422, "unit_not_found", "unit_code"),
        ({"email": "not-an-email"}, 422, "validation_failed", "email"),
        ({"email": "ab"}, 422, "validation_failed", "email"),
        ({"locale": "fr"}, 422, "validation_failed", "locale"),
        ({"is_admin": True}, 422, "validation_failed", "is_admin"),
        ({"email": "east@acme.test"}, 409, "email_taken", None),
        ({"email": "EAST@Acme.Test"}, 409, "email_taken", None),
    ],
)
def test_create_user_refusals(
    client: TestClient,
    org: Org,
    database_url: str,
    change: dict[str, Any],
    status: int,
    code: str,
    path: str | None,
) -> None:
    before = counts(database_url)
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    response = client.post("/api/v1/users", json=body, headers=org.auth("admin"))
    problem = assert_problem(response, status, code)
    if path is not None:
        assert [e["path"] for e in problem["errors"]] == [path]
    assert counts(database_url) == before


def test_tenant_wide_roles_need_no_unit(client: TestClient, org: Org) -> None:
    for role in ("admin", "cx_manager"):
        body = {"email": f"{role}2@acme.test", "role": role}
        response = client.post("/api/v1/users", json=body, headers=org.auth("admin"))
        assert response.status_code == 201, response.text
        assert (response.json()["role"], response.json()["unit_code"]) == (role, None)


def test_change_role_and_unit(client: TestClient, org: Org, database_url: str) -> None:
    target = org.user_ids["agent"]
    response = client.patch(
        f"/api/v1/users/{target}", json={"role": "unit_manager"}, headers=org.auth("admin")
    )
    assert (response.json()["role"], response.json()["unit_code"]) == ("unit_manager", "SH001")
    assert [r["target_id"] for r in audit_rows(database_url, "role.changed")] == [target]
    response = client.patch(
        f"/api/v1/users/{target}", json={"role": "cx_manager", "unit_code": None}, headers=org.auth("admin")
    )
    assert (response.json()["role"], response.json()["unit_code"]) == ("cx_manager", None)
    assert count(database_url, "memberships") == 6


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"role": "boss"}, 422, "validation_failed"),
        ({"unit_code": None}, 422, "unit_required"),
        ({"unit_code": "NOPE"}, 422, "unit_not_found"),
        ({"password": "short"}, 422, "weak_password"),
        ({"name": "   "}, 422, "validation_failed"),
        ({"locale": "xx"}, 422, "validation_failed"),
    ],
)
def test_patch_refusals_change_nothing(
    client: TestClient, org: Org, database_url: str, change: dict[str, Any], status: int, code: str
) -> None:
    target = org.user_ids["store"]
    before = counts(database_url)
    before_view = client.get(f"/api/v1/users/{target}", headers=org.auth("admin")).json()
    assert_problem(
        client.patch(f"/api/v1/users/{target}", json=change, headers=org.auth("admin")), status, code
    )
    assert counts(database_url) == before
    assert client.get(f"/api/v1/users/{target}", headers=org.auth("admin")).json() == before_view


def test_admin_cannot_disable_or_demote_self(client: TestClient, org: Org, database_url: str) -> None:
    me = org.user_ids["admin"]
    before = counts(database_url)
    assert_problem(client.post(f"/api/v1/users/{me}/disable", headers=org.auth("admin")), 409, "self_disable")
    assert_problem(
        client.patch(
            f"/api/v1/users/{me}", json={"role": "analyst", "unit_code": "HQ"}, headers=org.auth("admin")
        ),
        409,
        "self_demotion",
    )
    assert counts(database_url) == before
    assert client.get("/api/v1/me", headers=org.auth("admin")).json()["memberships"][0]["role"] == "admin"


def test_unknown_user_id(client: TestClient, org: Org) -> None:
    for method, suffix in (("GET", ""), ("PATCH", ""), ("POST", "/disable"), ("POST", "/enable")):
        response = client.request(
            method,
            f"/api/v1/users/nobody{suffix}",
            headers=org.auth("admin"),
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert_problem(response, 404, "user_not_found")


def test_disabled_user_is_listed_as_inactive(client: TestClient, org: Org, database_url: str) -> None:
    user_id = add_user(database_url, org, "gone@acme.test", "agent", "SH001")
    client.post(f"/api/v1/users/{user_id}/disable", headers=org.auth("admin"))
    listed = {
        u["email"]: u["is_active"]
        for u in client.get("/api/v1/users", headers=org.auth("admin")).json()["items"]
    }
    assert listed["gone@acme.test"] is False


# --- units ----------------------------------------------------------------


def test_create_unit_with_names(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/units",
        json={
            "code": "SH003",
            "name": {"zh-CN": "上海三店", "en": "Shanghai 3"},
            "names": {"zh-TW": "上海三店"},
            "parent_code": "SH",
            "kind": "store",
        },
        headers=org.auth("cx"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["names"] == {"zh-CN": "上海三店", "en": "Shanghai 3", "zh-TW": "上海三店"}
    assert (body["name"], body["parent_code"], body["kind"], body["depth"], body["timezone"]) == (
        "上海三店",
        "SH",
        "store",
        3,
        "Asia/Shanghai",
    )
    under_sh = client.get("/api/v1/units", params={"under": "SH"}, headers=org.auth("east")).json()["items"]
    assert {u["code"] for u in under_sh} == {"SH", "SH001", "SH002", "SH003"}
    assert_problem(client.get("/api/v1/units/SH003", headers=org.auth("store")), 404, "unit_not_found")


def test_plain_name_goes_to_the_default_language(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/units",
        json={
            "code": "HZ",
            "name": "杭州",
            "parent_code": "EAST",
            "timezone": "Asia/Shanghai",
            "names": {"en": "Hangzhou"},
        },
        headers=org.auth("admin"),
    )
    assert response.json()["names"] == {"zh-CN": "杭州", "en": "Hangzhou"}
    assert client.get("/api/v1/units/HZ", headers=org.auth("east")).json()["code"] == "HZ"


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        ({"code": "ROOT2", "name": "Another root"}, 422, "root_exists", "parent_code"),
        ({"code": "X1", "name": "x", "parent_code": "NOPE"}, 422, "parent_not_found", "parent_code"),
        (
            {"code": "X1", "name": "x", "parent_code": "HQ", "timezone": "Mars/Olympus"},
            422,
            "validation_failed",
            "timezone",
        ),
        ({"code": "X1", "name": {}, "parent_code": "HQ"}, 422, "validation_failed", "name"),
        (
            {"code": "X1", "name": {"english": "x"}, "parent_code": "HQ"},
            422,
            "validation_failed",
            "name.english",
        ),
        ({"code": "X1", "name": {"en": "   "}, "parent_code": "HQ"}, 422, "validation_failed", "name.en"),
        (
            {"code": "X1", "name": "x", "names": {"EN!": "x"}, "parent_code": "HQ"},
            422,
            "validation_failed",
            "name.EN!",
        ),
        ({"code": "-bad", "name": "x", "parent_code": "HQ"}, 422, "validation_failed", "code"),
        ({"code": "has space", "name": "x", "parent_code": "HQ"}, 422, "validation_failed", "code"),
        ({"code": "SH001", "name": "x", "parent_code": "HQ"}, 409, "unit_code_taken", None),
    ],
)
def test_create_unit_refusals(
    client: TestClient,
    org: Org,
    database_url: str,
    body: dict[str, Any],
    status: int,
    code: str,
    path: str | None,
) -> None:
    before = counts(database_url)
    problem = assert_problem(client.post("/api/v1/units", json=body, headers=org.auth("admin")), status, code)
    if path is not None:
        assert [e["path"] for e in problem["errors"]] == [path]
    assert counts(database_url) == before


def test_root_twice(client: TestClient, database_url: str) -> None:
    """On an empty tenant the first root is allowed and the second refused."""
    from cxloop.identity.audit import Actor
    from cxloop.identity.tenants import create_tenant
    from cxloop.identity.tokens import create_user_token
    from cxloop.identity.users import create_user
    from cxloop.kit.db import Database
    from tests.factories import run

    async def bare_tenant() -> str:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                tenant = await create_tenant(session, slug="bare", name="Bare")
                actor = Actor(tenant.id, label="tests")
                view = await create_user(
                    session,
                    tenant,
                    email="root@bare.test",
                    name=None,
                    password=None,
                    role="admin",
                    unit_code=None,
                    actor=actor,
                )
                issued = await create_user_token(
                    session, view.user, name="t", scopes=None, expires_at=None, actor=actor
                )
                await session.commit()
                return issued.secret
        finally:
            await db.dispose()

    headers = {"Authorization": f"Bearer {run(bare_tenant())}"}
    first = client.post(
        "/api/v1/units", json={"code": "TOP", "name": "Top", "timezone": "Europe/Berlin"}, headers=headers
    )
    assert first.status_code == 201, first.text
    assert (first.json()["depth"], first.json()["parent_code"], first.json()["timezone"]) == (
        0,
        None,
        "Europe/Berlin",
    )
    before = counts(database_url)
    second = client.post("/api/v1/units", json={"code": "TOP2", "name": "Top 2"}, headers=headers)
    assert_problem(second, 422, "root_exists")
    assert counts(database_url) == before
    child = client.post(
        "/api/v1/units", json={"code": "KID", "name": "Kid", "parent_code": "TOP"}, headers=headers
    )
    assert child.json()["timezone"] == "Europe/Berlin"


def test_unit_codes_are_per_tenant(client: TestClient, org: Org, database_url: str) -> None:
    from tests.factories import make_org

    other = make_org(database_url, slug="globex", email_domain="globex.test")
    # Another tenant's parent code is not a parent here.
    response = client.post(
        "/api/v1/units",
        json={"code": "X1", "name": "x", "parent_code": "GLOBEX-HQ"},
        headers=org.auth("admin"),
    )
    assert_problem(response, 422, "parent_not_found")
    assert_problem(client.get("/api/v1/units/GLOBEX-HQ", headers=org.auth("admin")), 404, "unit_not_found")
    assert len(client.get("/api/v1/units", headers=other.auth("admin")).json()["items"]) == 8
    assert_problem(
        client.get(f"/api/v1/users/{org.user_ids['east']}", headers=other.auth("admin")),
        404,
        "user_not_found",
    )
