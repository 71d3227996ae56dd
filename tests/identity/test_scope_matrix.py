"""Every role on every endpoint family: exactly what it sees, and what it may do.

Out-of-scope single objects answer 404 like missing ones; actions a role
lacks answer 403 permission_denied; refused writes leave no row behind.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org
from tests.identity.support import add_user, assert_problem, audit_rows, counts

ROLES = ["admin", "cx", "east", "store", "agent", "analyst"]
ALL_UNITS = {"HQ", "EAST", "SH", "SH001", "SH002", "SOUTH", "GZ", "GZ001"}
EAST_UNITS = {"EAST", "SH", "SH001", "SH002"}

VISIBLE_UNITS = {
    "admin": ALL_UNITS,
    "cx": ALL_UNITS,
    "east": EAST_UNITS,
    "store": {"SH001"},
    "agent": {"SH001"},
    "analyst": EAST_UNITS,
}

ALL_PEOPLE = {"admin", "cx", "east", "store", "agent", "analyst", "south"}
# None: the role may not list people at all.
VISIBLE_PEOPLE: dict[str, set[str] | None] = {
    "admin": ALL_PEOPLE,
    "cx": ALL_PEOPLE,
    "east": {"east", "store", "agent", "analyst"},
    "store": {"store", "agent"},
    "agent": None,
    "analyst": {"east", "store", "agent", "analyst"},
}

ME = {
    "admin": ("admin", None, {"everywhere": True, "unit_codes": []}),
    "cx": ("cx_manager", None, {"everywhere": True, "unit_codes": []}),
    "east": ("unit_manager", "EAST", {"everywhere": False, "unit_codes": ["EAST"]}),
    "store": ("unit_manager", "SH001", {"everywhere": False, "unit_codes": ["SH001"]}),
    "agent": ("agent", "SH001", {"everywhere": False, "unit_codes": ["SH001"]}),
    "analyst": ("analyst", "EAST", {"everywhere": False, "unit_codes": ["EAST"]}),
}

PERMISSIONS = {
    "admin": [
        "audit.read",
        "cases.work",
        "config.write",
        "data.read",
        "data.write",
        "system",
        "tokens.all",
        "tokens.own",
        "units.read",
        "units.write",
        "users.read",
        "users.write",
    ],
    "cx": [
        "cases.work",
        "config.write",
        "data.read",
        "data.write",
        "tokens.own",
        "units.read",
        "units.write",
        "users.read",
    ],
    "east": ["cases.work", "data.read", "data.write", "tokens.own", "units.read", "users.read"],
    "store": ["cases.work", "data.read", "data.write", "tokens.own", "units.read", "users.read"],
    "agent": ["cases.work", "data.read", "tokens.own", "units.read"],
    # The analyst's token is read-only, so tokens.own (a write) drops out.
    "analyst": ["data.read", "units.read", "users.read"],
}

CAN_WRITE_UNITS = {"admin", "cx"}
CAN_WRITE_USERS = {"admin"}
# Everyone with a read-write token may make tokens for themselves.
CAN_MAKE_TOKENS = {"admin", "cx", "east", "store", "agent"}


@pytest.fixture
def people(org: Org, database_url: str) -> dict[str, str]:
    """The org's users plus one in SOUTH, which the EAST roles must not see."""
    ids = dict(org.user_ids)
    ids["south"] = add_user(database_url, org, "south@acme.test", "unit_manager", "SOUTH")
    return ids


def walk(client: TestClient, path: str, headers: dict[str, str], limit: int = 2) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


# --- me -------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_me(client: TestClient, org: Org, who: str) -> None:
    response = client.get("/api/v1/me", headers=org.auth(who))
    assert response.status_code == 200, response.text
    body = response.json()
    role, unit, scope = ME[who]
    assert body["id"] == org.user_ids[who]
    assert body["kind"] == "user"
    assert body["email"] == f"{who}@acme.test"
    assert [(m["role"], m["unit_code"]) for m in body["memberships"]] == [(role, unit)]
    assert body["scope"] == scope
    assert body["permissions"] == PERMISSIONS[who]
    assert body["tenant"]["slug"] == "acme"
    assert body["token"]["kind"] == "user"


# --- units ----------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_units_list_is_exactly_the_scope(client: TestClient, org: Org, who: str) -> None:
    codes = [u["code"] for u in walk(client, "/api/v1/units", org.auth(who))]
    assert len(codes) == len(set(codes))
    assert set(codes) == VISIBLE_UNITS[who]


@pytest.mark.parametrize("who", ROLES)
def test_unit_get_in_scope_or_404(client: TestClient, org: Org, who: str) -> None:
    for code in sorted(ALL_UNITS):
        response = client.get(f"/api/v1/units/{code}", headers=org.auth(who))
        if code in VISIBLE_UNITS[who]:
            assert response.status_code == 200, (code, response.text)
            assert (response.json()["code"], response.json()["id"]) == (code, org.unit_ids[code])
        else:
            assert_problem(response, 404, "unit_not_found")


@pytest.mark.parametrize("who", ROLES)
def test_unit_get_out_of_scope_reads_like_missing(client: TestClient, org: Org, who: str) -> None:
    missing = client.get("/api/v1/units/NOPE", headers=org.auth(who))
    body = assert_problem(missing, 404, "unit_not_found")
    if "GZ001" not in VISIBLE_UNITS[who]:
        hidden = client.get("/api/v1/units/GZ001", headers=org.auth(who)).json()
        assert {k: v for k, v in hidden.items() if k != "instance"} == {
            k: v for k, v in body.items() if k != "instance"
        }


@pytest.mark.parametrize("who", ROLES)
def test_units_under_filter(client: TestClient, org: Org, who: str) -> None:
    response = client.get("/api/v1/units", params={"under": "SH"}, headers=org.auth(who))
    if "SH" in VISIBLE_UNITS[who]:
        assert {u["code"] for u in response.json()["items"]} == {"SH", "SH001", "SH002"}
    else:
        assert_problem(response, 404, "unit_not_found")


@pytest.mark.parametrize("who", ROLES)
def test_unit_create(client: TestClient, org: Org, database_url: str, who: str) -> None:
    before = counts(database_url)
    response = client.post(
        "/api/v1/units",
        json={"code": "SH003", "name": "Shanghai 3", "parent_code": "SH"},
        headers=org.auth(who),
    )
    after = counts(database_url)
    if who in CAN_WRITE_UNITS:
        assert response.status_code == 201, response.text
        assert response.json()["parent_code"] == "SH"
        assert after["units"] == before["units"] + 1
        assert [r["target_id"] for r in audit_rows(database_url, "unit.created")][-1] == response.json()["id"]
    else:
        assert_problem(response, 403, "permission_denied")
        assert after == before


# --- users ----------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_users_list_is_exactly_the_scope(
    client: TestClient, org: Org, people: dict[str, str], who: str
) -> None:
    expected = VISIBLE_PEOPLE[who]
    if expected is None:
        assert_problem(client.get("/api/v1/users", headers=org.auth(who)), 403, "permission_denied")
        return
    emails = [u["email"] for u in walk(client, "/api/v1/users", org.auth(who))]
    assert len(emails) == len(set(emails))
    assert set(emails) == {f"{p}@acme.test" for p in expected}


@pytest.mark.parametrize("who", ROLES)
def test_user_get_in_scope_or_404(client: TestClient, org: Org, people: dict[str, str], who: str) -> None:
    visible = VISIBLE_PEOPLE[who] or set()
    for target in sorted(ALL_PEOPLE):
        response = client.get(f"/api/v1/users/{people[target]}", headers=org.auth(who))
        if target in visible or target == who:
            assert response.status_code == 200, (target, response.text)
            assert response.json()["email"] == f"{target}@acme.test"
        else:
            assert_problem(response, 404, "user_not_found")


@pytest.mark.parametrize("who", ROLES)
def test_user_create(client: TestClient, org: Org, database_url: str, who: str) -> None:
    before = counts(database_url)
    response = client.post(
        "/api/v1/users",
        json={"email": "new@acme.test", "role": "agent", "unit_code": "SH002", "password": "correct horse 1"},
        headers=org.auth(who),
    )
    after = counts(database_url)
    if who in CAN_WRITE_USERS:
        assert response.status_code == 201, response.text
        assert (after["users"], after["memberships"]) == (before["users"] + 1, before["memberships"] + 1)
    else:
        assert_problem(response, 403, "permission_denied")
        assert after == before


# Patching someone else's name: who may, who is refused, who cannot even see them.
PATCH_STORE = {"admin": 200, "cx": 403, "east": 403, "store": 200, "agent": 404, "analyst": 403}
PATCH_SOUTH = {"admin": 200, "cx": 403, "east": 404, "store": 404, "agent": 404, "analyst": 404}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("target", "expected"), [("store", PATCH_STORE), ("south", PATCH_SOUTH)])
def test_user_patch(
    client: TestClient,
    org: Org,
    people: dict[str, str],
    database_url: str,
    who: str,
    target: str,
    expected: dict[str, int],
) -> None:
    before = counts(database_url)
    response = client.patch(
        f"/api/v1/users/{people[target]}", json={"name": "Renamed"}, headers=org.auth(who)
    )
    status = expected[who]
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Renamed"
        return
    assert_problem(response, status, "permission_denied" if status == 403 else "user_not_found")
    assert counts(database_url) == before
    admin_view = client.get(f"/api/v1/users/{people[target]}", headers=org.auth("admin")).json()
    assert admin_view["name"] == target.title() if target != "south" else "south"


@pytest.mark.parametrize("who", ROLES)
def test_own_name_change_needs_a_writing_token(client: TestClient, org: Org, who: str) -> None:
    response = client.patch("/api/v1/me", json={"name": "Me Myself"}, headers=org.auth(who))
    if who == "analyst":
        assert_problem(response, 403, "permission_denied")
        assert client.get("/api/v1/me", headers=org.auth(who)).json()["name"] == "Analyst"
    else:
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Me Myself"


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("action", ["disable", "enable"])
def test_user_disable_enable(
    client: TestClient, org: Org, people: dict[str, str], database_url: str, who: str, action: str
) -> None:
    before = counts(database_url)
    response = client.post(f"/api/v1/users/{people['south']}/{action}", headers=org.auth(who))
    if who in CAN_WRITE_USERS:
        assert response.status_code == 200, response.text
        assert response.json()["is_active"] is (action == "enable")
    else:
        # Refused before lookup, so it says nothing about whether the person exists.
        assert_problem(response, 403, "permission_denied")
        missing = client.post(f"/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV/{action}", headers=org.auth(who))
        assert_problem(missing, 403, "permission_denied")
        assert counts(database_url) == before


# --- tokens ---------------------------------------------------------------


def _token_ids(client: TestClient, org: Org, who: str) -> set[str]:
    return {t["id"] for t in walk(client, "/api/v1/tokens", org.auth(who))}


@pytest.fixture
def token_ids(client: TestClient, org: Org) -> dict[str, str]:
    """Each person's own token id, as /me reports it."""
    return {who: client.get("/api/v1/me", headers=org.auth(who)).json()["token"]["id"] for who in ROLES}


@pytest.mark.parametrize("who", ROLES)
def test_tokens_list(client: TestClient, org: Org, token_ids: dict[str, str], who: str) -> None:
    expected = set(token_ids.values()) if who == "admin" else {token_ids[who]}
    assert _token_ids(client, org, who) == expected


@pytest.mark.parametrize("who", ROLES)
def test_token_get(client: TestClient, org: Org, token_ids: dict[str, str], who: str) -> None:
    for owner in ROLES:
        response = client.get(f"/api/v1/tokens/{token_ids[owner]}", headers=org.auth(who))
        if who in ("admin", owner):
            assert response.status_code == 200, (owner, response.text)
            assert response.json()["user_id"] == org.user_ids[owner]
        else:
            assert_problem(response, 404, "token_not_found")


@pytest.mark.parametrize("who", ROLES)
def test_token_create(client: TestClient, org: Org, database_url: str, who: str) -> None:
    before = counts(database_url)
    response = client.post("/api/v1/tokens", json={"name": "laptop"}, headers=org.auth(who))
    if who in CAN_MAKE_TOKENS:
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user_id"] == org.user_ids[who]
        assert body["token"].startswith(f"cxl_{body['id']}_")
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert me.json()["email"] == f"{who}@acme.test"
        assert counts(database_url)["api_tokens"] == before["api_tokens"] + 1
    else:
        assert_problem(response, 403, "permission_denied")
        assert counts(database_url) == before


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("owner", ["own", "other"])
def test_token_revoke(
    client: TestClient, org: Org, token_ids: dict[str, str], database_url: str, who: str, owner: str
) -> None:
    holder = "store" if who != "store" else "east"
    target_token = client.post(
        "/api/v1/tokens",
        json={"name": "spare"},
        headers=org.auth(who if owner == "own" and who != "analyst" else holder),
    ).json()
    before = counts(database_url)
    response = client.delete(f"/api/v1/tokens/{target_token['id']}", headers=org.auth(who))
    if who == "analyst":
        assert_problem(response, 403, "permission_denied")
    elif owner == "own" or who == "admin":
        assert response.status_code == 200, response.text
        assert response.json()["revoked_at"] is not None
        assert audit_rows(database_url, "token.revoked")[-1]["target_id"] == target_token["id"]
        return
    else:
        assert_problem(response, 404, "token_not_found")
    assert counts(database_url) == before
    still = client.get("/api/v1/me", headers={"Authorization": f"Bearer {target_token['token']}"})
    assert still.status_code == 200


# --- audit ----------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_audit_events_admin_only(client: TestClient, org: Org, who: str) -> None:
    response = client.get("/api/v1/audit-events", headers=org.auth(who))
    if who == "admin":
        assert response.status_code == 200, response.text
        assert response.json()["items"]
    else:
        assert_problem(response, 403, "permission_denied")
