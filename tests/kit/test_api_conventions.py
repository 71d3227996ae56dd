"""The public API conventions of PRODUCT.md, proved over the identity API:
problem+json errors, size limits, cursor pagination, Idempotency-Key, times."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.kit.settings import Settings
from cxloop.web import create_app
from tests.factories import Org
from tests.identity.support import assert_problem, audit_rows, count, counts

UNIT = {"code": "SH003", "name": {"zh-CN": "上海三店", "en": "Shanghai 3"}, "parent_code": "SH"}


# --- problem+json ---------------------------------------------------------


def test_validation_error_lists_every_field(client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    response = client.post(
        "/api/v1/units", json={"parent_code": 7, "colour": "red"}, headers=org.auth("admin")
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["instance"] == "/api/v1/units"
    assert body["title"] == "Validation failed"
    assert sorted((e["path"], e["message"]) for e in body["errors"]) == [
        ("code", "Field required"),
        ("colour", "Extra inputs are not permitted"),
        ("name", "Field required"),
        ("parent_code", "Input should be a valid string"),
    ]
    assert counts(database_url) == before


def test_query_parameter_errors_name_the_parameter(client: TestClient, org: Org) -> None:
    for params, path in (
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"since": "yesterday"}, "query.since"),
    ):
        response = client.get("/api/v1/audit-events", params=params, headers=org.auth("admin"))
        body = assert_problem(response, 422, "validation_failed")
        assert [e["path"] for e in body["errors"]] == [path]


def test_unknown_route_is_a_problem(client: TestClient, org: Org) -> None:
    for headers in ({}, org.auth("admin")):
        body = assert_problem(client.get("/api/v1/nothing-here", headers=headers), 404, "not_found")
        assert body["instance"] == "/api/v1/nothing-here"
        assert body["title"] == "Not found"


def test_wrong_method_is_a_problem(client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    response = client.put("/api/v1/units", json=UNIT, headers=org.auth("admin"))
    body = assert_problem(response, 405, "method_not_allowed")
    assert body["title"] == "Method not allowed"
    assert response.headers["allow"] == "GET, POST"
    me = client.delete("/api/v1/me", headers=org.auth("admin"))
    assert_problem(me, 405, "method_not_allowed")
    assert me.headers["allow"] == "GET, PATCH"
    assert counts(database_url) == before


@pytest.mark.parametrize(
    "raw", [b"{bad", b'{"code": "X",', b"[1, 2", b"\xff\xfe", b"\x80abc", b'{"name": "\xe4"}']
)
def test_malformed_json_is_a_problem(client: TestClient, org: Org, database_url: str, raw: bytes) -> None:
    before = counts(database_url)
    headers = {**org.auth("admin"), "Content-Type": "application/json"}
    response = client.post("/api/v1/units", content=raw, headers=headers)
    body = assert_problem(response, 422, "malformed_json")
    assert [e["path"] for e in body["errors"]] == ["body"]
    assert counts(database_url) == before


def test_json_of_the_wrong_shape(client: TestClient, org: Org) -> None:
    for payload in ([1, 2], "text", 3, None):
        response = client.post("/api/v1/units", json=payload, headers=org.auth("admin"))
        body = assert_problem(response, 422, "validation_failed")
        assert [e["path"] for e in body["errors"]] == ["body"]


@pytest.fixture
def small_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"max_request_bytes": 2048}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_oversize_declared_body_is_refused(small_client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    big = {**UNIT, "name": "x" * 3000}
    response = small_client.post("/api/v1/units", json=big, headers=org.auth("admin"))
    body = assert_problem(response, 413, "payload_too_large")
    assert body["detail"] == "The request body exceeds 2048 bytes."
    assert counts(database_url) == before


def test_oversize_streamed_body_is_refused(small_client: TestClient, org: Org, database_url: str) -> None:
    before = counts(database_url)
    chunks = [json.dumps({**UNIT, "name": "x" * 3000}).encode()[i : i + 1000] for i in range(0, 3200, 1000)]
    headers = {**org.auth("admin"), "Content-Type": "application/json"}
    response = small_client.post("/api/v1/units", content=iter(chunks), headers=headers)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert counts(database_url) == before


def test_body_under_the_limit_passes(small_client: TestClient, org: Org) -> None:
    response = small_client.post("/api/v1/units", json=UNIT, headers=org.auth("admin"))
    assert response.status_code == 201, response.text


# PostgreSQL cannot hold NUL in text (SQLite can): refused the same way on both.
NUL_BODIES = [
    ("POST", "/api/v1/users", {"email": "nul@acme.test", "name": "a\u0000b", "role": "admin"}, "name"),
    (
        "POST",
        "/api/v1/users",
        {"email": "nul@acme.test", "role": "admin", "password": "abcdefghij\u0000"},
        "password",
    ),
    ("POST", "/api/v1/units", {"code": "N1", "name": {"en": "a\u0000"}, "parent_code": "HQ"}, "name"),
    (
        "POST",
        "/api/v1/units",
        {"code": "N1", "name": "n", "names": {"e\u0000": "x"}, "parent_code": "HQ"},
        "names",
    ),
    ("POST", "/api/v1/units", {"code": "N1", "name": "n", "parent_code": "HQ", "kind": "\u0000"}, "kind"),
    ("POST", "/api/v1/tokens", {"name": "a\u0000b"}, "name"),
    ("POST", "/api/v1/tokens", {"name": "s", "service": {"role": "admin\u0000"}}, "service.role"),
    ("PATCH", "/api/v1/me", {"name": "a\u0000b"}, "name"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_BODIES)
def test_nul_in_body_is_refused(
    client: TestClient, org: Org, database_url: str, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = counts(database_url)
    response = client.request(method, path, json=body, headers=org.auth("admin"))
    problem = assert_problem(response, 422, "validation_failed")
    assert [(e["path"], e["message"]) for e in problem["errors"]] == [
        (field, "Value error, Text may not contain NUL characters.")
    ]
    assert counts(database_url) == before


@pytest.mark.parametrize(
    ("path", "params", "where"),
    [
        ("/api/v1/units/a%00b", {}, "path"),
        ("/api/v1/users/a%00b", {}, "path"),
        ("/api/v1/tokens/a%00b", {}, "path"),
        ("/api/v1/audit-events", {"action": "a\u0000b"}, "query.action"),
        ("/api/v1/units", {"under": "\u0000"}, "query.under"),
    ],
)
def test_nul_in_url_is_refused(
    client: TestClient, org: Org, path: str, params: dict[str, str], where: str
) -> None:
    response = client.get(path, params=params, headers=org.auth("admin"))
    problem = assert_problem(response, 422, "invalid_text")
    assert [e["path"] for e in problem["errors"]] == [where]


# --- cursor pagination ----------------------------------------------------


def _pages(client: TestClient, path: str, headers: dict[str, str], limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def test_units_walk_in_pages_of_two(client: TestClient, org: Org) -> None:
    pages = _pages(client, "/api/v1/units", org.auth("admin"), 2)
    assert [len(p) for p in pages] == [2, 2, 2, 2]
    walked = [u["id"] for p in pages for u in p]
    whole = [
        u["id"]
        for u in client.get("/api/v1/units", params={"limit": 500}, headers=org.auth("admin")).json()["items"]
    ]
    assert walked == whole == sorted(org.unit_ids.values())
    assert len(set(walked)) == 8


def test_uneven_last_page_and_scoped_walk(client: TestClient, org: Org) -> None:
    assert [len(p) for p in _pages(client, "/api/v1/units", org.auth("admin"), 3)] == [3, 3, 2]
    east = _pages(client, "/api/v1/units", org.auth("east"), 3)
    assert [len(p) for p in east] == [3, 1]
    assert {u["code"] for p in east for u in p} == {"EAST", "SH", "SH001", "SH002"}


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit-events"])
def test_other_lists_walk_without_gaps(client: TestClient, org: Org, path: str) -> None:
    pages = _pages(client, path, org.auth("admin"), 2)
    walked = [i["id"] for p in pages for i in p]
    whole = [
        i["id"] for i in client.get(path, params={"limit": 500}, headers=org.auth("admin")).json()["items"]
    ]
    assert walked == whole
    assert len(walked) == len(set(walked)) > 2
    assert walked == (sorted(walked, reverse=True) if "audit" in path else sorted(walked))


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "!!!",
        "%%%",
        _b64([1, 2]),
        _b64({"k": "users", "after": "0"}),
        _b64({"k": "units", "after": 5}),
        _b64({"k": "units"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "x" * 500,
    ],
)
def test_bad_cursor(client: TestClient, org: Org, cursor: str) -> None:
    response = client.get("/api/v1/units", params={"cursor": cursor}, headers=org.auth("admin"))
    body = assert_problem(response, 422, "invalid_cursor")
    assert [e["path"] for e in body["errors"]] == ["cursor"]


def test_cursor_with_forged_key(client: TestClient, org: Org) -> None:
    for after in ("01\u0000", "x" * 65, "\n"):
        cursor = _b64({"k": "units", "after": after})
        response = client.get("/api/v1/units", params={"cursor": cursor}, headers=org.auth("admin"))
        assert_problem(response, 422, "invalid_cursor")


def test_cursor_of_another_list_is_refused(client: TestClient, org: Org) -> None:
    users_cursor = client.get("/api/v1/users", params={"limit": 1}, headers=org.auth("admin")).json()[
        "next_cursor"
    ]
    response = client.get("/api/v1/units", params={"cursor": users_cursor}, headers=org.auth("admin"))
    assert_problem(response, 422, "invalid_cursor")


def test_cursor_does_not_widen_scope(client: TestClient, org: Org) -> None:
    admin_cursor = client.get("/api/v1/units", params={"limit": 1}, headers=org.auth("admin")).json()[
        "next_cursor"
    ]
    items = client.get("/api/v1/units", params={"cursor": admin_cursor}, headers=org.auth("store")).json()[
        "items"
    ]
    assert {u["code"] for u in items} <= {"SH001"}


# --- Idempotency-Key ------------------------------------------------------


def test_same_key_same_body_replays(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("admin"), "Idempotency-Key": "unit-sh003"}
    first = client.post("/api/v1/units", json=UNIT, headers=headers)
    assert first.status_code == 201, first.text
    after_first = counts(database_url)
    second = client.post("/api/v1/units", json=UNIT, headers=headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert counts(database_url) == after_first
    assert len(audit_rows(database_url, "unit.created")) == 9


def test_same_key_other_body_is_refused(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("admin"), "Idempotency-Key": "k1"}
    assert client.post("/api/v1/units", json=UNIT, headers=headers).status_code == 201
    before = counts(database_url)
    response = client.post("/api/v1/units", json={**UNIT, "code": "SH004"}, headers=headers)
    body = assert_problem(response, 422, "idempotency_key_reused")
    assert [e["path"] for e in body["errors"]] == ["Idempotency-Key"]
    # The same key on another endpoint is another request too.
    other = client.post("/api/v1/tokens", json={"name": "t"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    assert counts(database_url) == before


def test_keys_belong_to_their_principal(client: TestClient, org: Org, database_url: str) -> None:
    admin = {**org.auth("admin"), "Idempotency-Key": "shared"}
    cx = {**org.auth("cx"), "Idempotency-Key": "shared"}
    assert client.post("/api/v1/units", json=UNIT, headers=admin).status_code == 201
    # cx's key is its own: not a replay of admin's answer, so the code is taken.
    assert_problem(client.post("/api/v1/units", json=UNIT, headers=cx), 409, "unit_code_taken")
    made = client.post("/api/v1/units", json={**UNIT, "code": "SH004"}, headers=cx)
    assert made.status_code == 201
    assert client.post("/api/v1/units", json={**UNIT, "code": "SH004"}, headers=cx).status_code == 200
    assert count(database_url, "units") == 10


def test_failed_request_does_not_burn_the_key(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("admin"), "Idempotency-Key": "retry-me"}
    bad = client.post("/api/v1/units", json={**UNIT, "parent_code": "NOPE"}, headers=headers)
    assert_problem(bad, 422, "parent_not_found")
    assert count(database_url, "idempotency_keys") == 0
    good = client.post("/api/v1/units", json=UNIT, headers=headers)
    assert good.status_code == 201


def test_user_creation_replays(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("admin"), "Idempotency-Key": "user-1"}
    body = {"email": "new@acme.test", "role": "agent", "unit_code": "SH002", "password": "correct horse 1"}
    first = client.post("/api/v1/users", json=body, headers=headers)
    assert first.status_code == 201
    second = client.post("/api/v1/users", json=body, headers=headers)
    assert (second.status_code, second.json()) == (200, first.json())
    assert count(database_url, "users") == 7
    assert len(audit_rows(database_url, "user.created")) == 7


def test_token_replay_does_not_keep_the_secret(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("east"), "Idempotency-Key": "token-1"}
    first = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers)
    assert first.status_code == 201
    secret = first.json()["token"]
    second = client.post("/api/v1/tokens", json={"name": "ci"}, headers=headers)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    # The secret is shown once: the stored answer (and so the replay) lacks it.
    assert second.json()["token"] is None
    assert count(database_url, "api_tokens") == 7
    from sqlalchemy import text

    from tests.identity.support import engine_for

    with engine_for(database_url) as engine, engine.connect() as conn:
        stored = conn.execute(text("SELECT response FROM idempotency_keys")).scalar_one()
    assert secret not in json.dumps(stored)


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_bad_idempotency_key(client: TestClient, org: Org, database_url: str, key: str) -> None:
    before = counts(database_url)
    response = client.post("/api/v1/units", json=UNIT, headers={**org.auth("admin"), "Idempotency-Key": key})
    body = assert_problem(response, 422, "validation_failed")
    assert [e["path"] for e in body["errors"]] == ["Idempotency-Key"]
    assert counts(database_url) == before


# --- times ----------------------------------------------------------------


def _assert_utc_iso(value: str) -> None:
    assert value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    assert abs(datetime.now(parsed.tzinfo) - parsed) < timedelta(minutes=5)


def test_times_are_iso_8601_utc(client: TestClient, org: Org) -> None:
    admin = org.auth("admin")
    created = client.post("/api/v1/units", json=UNIT, headers=admin).json()
    _assert_utc_iso(created["created_at"])
    for unit in client.get("/api/v1/units", headers=admin).json()["items"]:
        _assert_utc_iso(unit["created_at"])
    for user in client.get("/api/v1/users", headers=admin).json()["items"]:
        _assert_utc_iso(user["created_at"])
    for event in client.get("/api/v1/audit-events", headers=admin).json()["items"]:
        _assert_utc_iso(event["occurred_at"])
    token = client.post(
        "/api/v1/tokens", json={"name": "t", "expires_at": "2099-01-01T08:00:00+08:00"}, headers=admin
    ).json()
    assert token["expires_at"] == "2099-01-01T00:00:00Z"
    _assert_utc_iso(token["created_at"])


def test_naive_times_are_taken_as_utc(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/tokens", json={"name": "t", "expires_at": "2099-01-01T00:00:00"}, headers=org.auth("admin")
    )
    assert response.status_code == 201, response.text
    assert response.json()["expires_at"] == "2099-01-01T00:00:00Z"


def test_time_filters_take_offsets(client: TestClient, org: Org) -> None:
    admin = org.auth("admin")
    everything = client.get(
        "/api/v1/audit-events", params={"since": "2000-01-01T08:00:00+08:00"}, headers=admin
    )
    assert len(everything.json()["items"]) == 8 + 6 + 6
    nothing = client.get("/api/v1/audit-events", params={"until": "2000-01-01T00:00:00Z"}, headers=admin)
    assert nothing.json()["items"] == []
