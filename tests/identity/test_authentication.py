"""Who may call at all: 401 for missing or dead credentials, and what a token's
scopes and a service token's role allow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org
from tests.identity.support import assert_problem, counts, execute

ENDPOINTS = [
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("GET", "/api/v1/units"),
    ("GET", "/api/v1/units/SH001"),
    ("POST", "/api/v1/units"),
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("POST", "/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV/disable"),
    ("POST", "/api/v1/users/01ARZ3NDEKTSV4RRFFQ69G5FAV/enable"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("DELETE", "/api/v1/tokens/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ("GET", "/api/v1/audit-events"),
]

BAD_HEADERS = {
    "missing": (None, "unauthenticated", "Bearer"),
    "basic": ("Basic YWRtaW46YWRtaW4=", "bad_authorization_header", "Bearer"),
    "empty_bearer": ("Bearer ", "bad_authorization_header", "Bearer"),
    "garbage": ("Bearer not-a-token", "invalid_token", 'Bearer error="invalid_token"'),
    "unknown_id": (
        "Bearer cxl_01ARZ3NDEKTSV4RRFFQ69G5FAV_secret",
        "invalid_token",
        'Bearer error="invalid_token"',
    ),
    "too_long_id": ("Bearer cxl_" + "A" * 40 + "_secret", "invalid_token", 'Bearer error="invalid_token"'),
}


def _body(method: str) -> dict[str, str] | None:
    return {"name": "x"} if method in ("POST", "PATCH") else None


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_every_endpoint_needs_credentials(client: TestClient, org: Org, database_url: str, case: str) -> None:
    header, code, challenge = BAD_HEADERS[case]
    before = counts(database_url)
    headers = {"Authorization": header} if header is not None else {}
    for method, path in ENDPOINTS:
        response = client.request(method, path, headers=headers, json=_body(method))
        assert_problem(response, 401, code)
        assert response.headers["www-authenticate"] == challenge, (method, path)
    assert counts(database_url) == before


def test_wrong_secret_for_a_real_token_id(client: TestClient, org: Org) -> None:
    prefix = org.tokens["admin"].rsplit("_", 1)[0]
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {prefix}_wrong-secret"})
    assert_problem(response, 401, "invalid_token")


def test_lowercase_bearer_scheme_is_accepted(client: TestClient, org: Org) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {org.tokens['east']}"})
    assert response.status_code == 200


def _dead(client: TestClient, token: str) -> None:
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/units"), ("POST", "/api/v1/tokens")):
        response = client.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, json=_body(method)
        )
        assert_problem(response, 401, "invalid_token")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_revoked_token_stops_at_once(client: TestClient, org: Org) -> None:
    issued = client.post("/api/v1/tokens", json={"name": "short-lived"}, headers=org.auth("east")).json()
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=org.auth("east")).status_code == 200
    _dead(client, issued["token"])
    # Revoking again is harmless, and the list no longer shows it unless asked.
    again = client.delete(f"/api/v1/tokens/{issued['id']}", headers=org.auth("east"))
    assert again.status_code == 200
    listed = client.get("/api/v1/tokens", headers=org.auth("east")).json()["items"]
    assert issued["id"] not in {t["id"] for t in listed}
    with_revoked = client.get("/api/v1/tokens", params={"include_revoked": "true"}, headers=org.auth("east"))
    assert issued["id"] in {t["id"] for t in with_revoked.json()["items"]}


def test_expired_token_is_refused(client: TestClient, org: Org, database_url: str) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    issued = client.post(
        "/api/v1/tokens", json={"name": "temp", "expires_at": soon}, headers=org.auth("store")
    ).json()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued['token']}"}).status_code == 200
    execute(
        database_url,
        "UPDATE api_tokens SET expires_at = :past WHERE id = :id",
        past=datetime.now(UTC) - timedelta(seconds=1),
        id=issued["id"],
    )
    _dead(client, issued["token"])


def test_expiry_in_the_past_is_refused(client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = client.post(
        "/api/v1/tokens", json={"name": "t", "expires_at": past}, headers=org.auth("store")
    )
    body = assert_problem(response, 422, "validation_failed")
    assert [e["path"] for e in body["errors"]] == ["expires_at"]
    assert counts(database_url) == before


def test_disabled_user_token_stops_at_once(client: TestClient, org: Org, database_url: str) -> None:
    assert client.get("/api/v1/me", headers=org.auth("store")).status_code == 200
    response = client.post(f"/api/v1/users/{org.user_ids['store']}/disable", headers=org.auth("admin"))
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    _dead(client, org.tokens["store"])
    enabled = client.post(f"/api/v1/users/{org.user_ids['store']}/enable", headers=org.auth("admin"))
    assert enabled.json()["is_active"] is True
    assert client.get("/api/v1/me", headers=org.auth("store")).status_code == 200


def test_role_change_applies_to_the_next_request(client: TestClient, org: Org) -> None:
    codes = {u["code"] for u in client.get("/api/v1/units", headers=org.auth("store")).json()["items"]}
    assert codes == {"SH001"}
    response = client.patch(
        f"/api/v1/users/{org.user_ids['store']}", json={"unit_code": "SOUTH"}, headers=org.auth("admin")
    )
    assert response.status_code == 200, response.text
    codes = {u["code"] for u in client.get("/api/v1/units", headers=org.auth("store")).json()["items"]}
    assert codes == {"SOUTH", "GZ", "GZ001"}


# --- token scopes ---------------------------------------------------------


def _token(client: TestClient, org: Org, who: str, **body: object) -> dict[str, str]:
    response = client.post("/api/v1/tokens", json={"name": "scoped", **body}, headers=org.auth(who))
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_read_only_admin_token_reads_but_cannot_write(
    client: TestClient, org: Org, database_url: str
) -> None:
    reader = _token(client, org, "admin", scopes=["read"])
    assert len(client.get("/api/v1/units", headers=reader).json()["items"]) == 8
    assert len(client.get("/api/v1/users", headers=reader).json()["items"]) == 6
    me = client.get("/api/v1/me", headers=reader).json()
    assert me["permissions"] == ["data.read", "units.read", "users.read"]
    assert me["token"]["scopes"] == ["read"]
    before = counts(database_url)
    refused = [
        client.post("/api/v1/units", json={"code": "X1", "name": "x", "parent_code": "HQ"}, headers=reader),
        client.post("/api/v1/users", json={"email": "x@acme.test", "role": "admin"}, headers=reader),
        client.post("/api/v1/tokens", json={"name": "more"}, headers=reader),
        client.patch("/api/v1/me", json={"name": "Nope"}, headers=reader),
        client.patch(f"/api/v1/users/{org.user_ids['east']}", json={"name": "Nope"}, headers=reader),
        client.post(f"/api/v1/users/{org.user_ids['east']}/disable", headers=reader),
        client.delete(f"/api/v1/tokens/{me['token']['id']}", headers=reader),
        # Audit reading is an admin-scope act, not a plain read.
        client.get("/api/v1/audit-events", headers=reader),
    ]
    for response in refused:
        assert_problem(response, 403, "permission_denied")
    assert counts(database_url) == before


def test_write_token_without_admin_scope_cannot_administer(client: TestClient, org: Org) -> None:
    writer = _token(client, org, "admin", scopes=["read", "write"])
    assert (
        client.post(
            "/api/v1/units", json={"code": "X1", "name": "x", "parent_code": "HQ"}, headers=writer
        ).status_code
        == 201
    )
    assert_problem(
        client.post("/api/v1/users", json={"email": "x@acme.test", "role": "admin"}, headers=writer),
        403,
        "permission_denied",
    )
    assert_problem(client.get("/api/v1/audit-events", headers=writer), 403, "permission_denied")
    # Its own tokens only: tokens.all is an admin-scope permission.
    assert {
        t["scopes"] == ["read", "write"] for t in client.get("/api/v1/tokens", headers=writer).json()["items"]
    }


def test_token_cannot_outgrow_its_maker(client: TestClient, org: Org, database_url: str) -> None:
    writer = _token(client, org, "admin", scopes=["read", "write"])
    before = counts(database_url)
    response = client.post("/api/v1/tokens", json={"name": "bigger", "scopes": ["admin"]}, headers=writer)
    assert_problem(response, 422, "scope_exceeds_role")
    assert counts(database_url) == before


@pytest.mark.parametrize(
    ("who", "scopes"), [("east", ["admin"]), ("cx", ["read", "admin"]), ("store", ["delete"])]
)
def test_scopes_beyond_the_token_are_refused(
    client: TestClient, org: Org, database_url: str, who: str, scopes: list[str]
) -> None:
    before = counts(database_url)
    response = client.post("/api/v1/tokens", json={"name": "t", "scopes": scopes}, headers=org.auth(who))
    body = assert_problem(response, 422, "scope_exceeds_role")
    assert [e["path"] for e in body["errors"]] == ["scopes"]
    assert counts(database_url) == before


@pytest.mark.parametrize(
    ("scopes", "code", "path"),
    [
        (["delete"], "validation_failed", "scopes[0]"),
        (["read", "write"], "scope_exceeds_role", "scopes[1]"),
    ],
)
def test_service_token_scopes_are_checked_one_by_one(
    client: TestClient, org: Org, database_url: str, scopes: list[str], code: str, path: str
) -> None:
    before = counts(database_url)
    response = client.post(
        "/api/v1/tokens",
        json={"name": "svc", "scopes": scopes, "service": {"role": "analyst", "unit_code": "EAST"}},
        headers=org.auth("admin"),
    )
    body = assert_problem(response, 422, code)
    assert [e["path"] for e in body["errors"]] == [path]
    assert counts(database_url) == before


def test_empty_scope_list_is_refused(client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    body = assert_problem(
        client.post("/api/v1/tokens", json={"name": "t", "scopes": []}, headers=org.auth("east")),
        422,
        "validation_failed",
    )
    assert [e["path"] for e in body["errors"]] == ["scopes"]
    assert counts(database_url) == before


def test_analyst_token_is_read_only(client: TestClient, org: Org, database_url: str) -> None:
    me = client.get("/api/v1/me", headers=org.auth("analyst")).json()
    assert me["token"]["scopes"] == ["read"]
    before = counts(database_url)
    for response in (
        client.post("/api/v1/tokens", json={"name": "more"}, headers=org.auth("analyst")),
        client.patch("/api/v1/me", json={"locale": "en"}, headers=org.auth("analyst")),
        client.delete(f"/api/v1/tokens/{me['token']['id']}", headers=org.auth("analyst")),
    ):
        assert_problem(response, 403, "permission_denied")
    assert counts(database_url) == before


# --- service tokens -------------------------------------------------------


def _service(
    client: TestClient, org: Org, role: str, unit_code: str | None, **extra: object
) -> dict[str, object]:
    spec: dict[str, object] = {"role": role}
    if unit_code is not None:
        spec["unit_code"] = unit_code
    response = client.post(
        "/api/v1/tokens", json={"name": f"svc-{role}", "service": spec, **extra}, headers=org.auth("admin")
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


SERVICE_CASES = {
    # role, unit -> units seen, people seen (None: may not list), scopes
    ("unit_manager", "EAST"): (
        {"EAST", "SH", "SH001", "SH002"},
        {"east", "store", "agent", "analyst"},
        ["read", "write"],
    ),
    ("agent", "SH002"): ({"SH002"}, None, ["read", "write"]),
    ("analyst", "SOUTH"): ({"SOUTH", "GZ", "GZ001"}, set(), ["read"]),
    ("cx_manager", None): (
        {"HQ", "EAST", "SH", "SH001", "SH002", "SOUTH", "GZ", "GZ001"},
        {"admin", "cx", "east", "store", "agent", "analyst"},
        ["read", "write"],
    ),
}


@pytest.mark.parametrize(("role", "unit"), sorted(SERVICE_CASES, key=str))
def test_service_token_acts_with_its_role_and_unit(
    client: TestClient, org: Org, role: str, unit: str | None
) -> None:
    units, people, scopes = SERVICE_CASES[(role, unit)]
    issued = _service(client, org, role, unit)
    assert (issued["kind"], issued["service_role"], issued["user_id"], issued["scopes"]) == (
        "service",
        role,
        None,
        scopes,
    )
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    me = client.get("/api/v1/me", headers=bearer).json()
    assert (me["id"], me["kind"], me["email"], me["name"]) == (None, "service", None, f"svc-{role}")
    assert [(m["role"], m["unit_code"]) for m in me["memberships"]] == [(role, unit)]
    assert {u["code"] for u in client.get("/api/v1/units", headers=bearer).json()["items"]} == units
    listed = client.get("/api/v1/users", headers=bearer)
    if people is None:
        assert_problem(listed, 403, "permission_denied")
    else:
        assert {u["email"].split("@")[0] for u in listed.json()["items"]} == people
    if "GZ001" not in units:
        assert_problem(client.get("/api/v1/units/GZ001", headers=bearer), 404, "unit_not_found")
    assert_problem(
        client.post("/api/v1/users", json={"email": "x@acme.test", "role": "admin"}, headers=bearer),
        403,
        "permission_denied",
    )
    assert_problem(client.get("/api/v1/audit-events", headers=bearer), 403, "permission_denied")


def test_service_token_has_no_profile_and_makes_no_user_tokens(
    client: TestClient, org: Org, database_url: str
) -> None:
    bearer = {"Authorization": f"Bearer {_service(client, org, 'unit_manager', 'EAST')['token']}"}
    before = counts(database_url)
    assert_problem(client.patch("/api/v1/me", json={"name": "x"}, headers=bearer), 422, "not_a_user")
    assert_problem(client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer), 422, "not_a_user")
    assert counts(database_url) == before


def test_admin_service_token_administers(client: TestClient, org: Org) -> None:
    bearer = {"Authorization": f"Bearer {_service(client, org, 'admin', None)['token']}"}
    assert client.get("/api/v1/audit-events", headers=bearer).status_code == 200
    made = client.post(
        "/api/v1/users",
        json={"email": "bot-made@acme.test", "role": "analyst", "unit_code": "SOUTH"},
        headers=bearer,
    )
    assert made.status_code == 201, made.text
    events = client.get(
        "/api/v1/audit-events", params={"action": "user.created"}, headers=org.auth("admin")
    ).json()["items"]
    assert events[0]["target_id"] == made.json()["id"]
    assert events[0]["actor"] == "service:svc-admin"
    assert events[0]["actor_user_id"] is None


def test_revoked_service_token_stops(client: TestClient, org: Org) -> None:
    issued = _service(client, org, "agent", "SH001")
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=org.auth("admin")).status_code == 200
    _dead(client, str(issued["token"]))


@pytest.mark.parametrize(
    ("spec", "code", "path"),
    [
        ({"role": "agent"}, "unit_required", "unit_code"),
        ({"role": "unit_manager", "unit_code": "NOPE"}, "unit_not_found", "unit_code"),
        ({"role": "superuser"}, "validation_failed", "service.role"),
        ({"role": "analyst", "unit_code": "EAST", "extra": 1}, "validation_failed", "service.extra"),
    ],
)
def test_bad_service_specs(
    client: TestClient, org: Org, database_url: str, spec: dict[str, object], code: str, path: str
) -> None:
    before = counts(database_url)
    response = client.post("/api/v1/tokens", json={"name": "svc", "service": spec}, headers=org.auth("admin"))
    body = assert_problem(response, 422, code)
    assert [e["path"] for e in body["errors"]] == [path]
    assert counts(database_url) == before


@pytest.mark.parametrize("who", ["cx", "east", "store", "agent"])
def test_only_admins_make_service_tokens(client: TestClient, org: Org, database_url: str, who: str) -> None:
    before = counts(database_url)
    response = client.post(
        "/api/v1/tokens", json={"name": "svc", "service": {"role": "admin"}}, headers=org.auth(who)
    )
    assert_problem(response, 403, "permission_denied")
    assert counts(database_url) == before
