"""Contacts: upsert by any identity, reads, search, scope, encryption at rest."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.customers.support import make_contact, rows, written
from tests.factories import Org
from tests.identity.support import assert_problem


def test_upsert_creates_then_updates_by_any_identity(client: TestClient, org: Org) -> None:
    body: dict[str, Any] = {
        "identities": {"email": "Li.Wei@Example.COM", "phone": "138 0013 8000"},
        "name": "李伟",
        "first_name": "伟",
        "language": "zh-CN",
        "timezone": "Asia/Shanghai",
        "unit_code": "SH001",
        "attributes": {"tier": "gold", "spend": 1200.5},
        "tags": ["vip", "vip", "east"],
    }
    created = client.post("/api/v1/contacts", json=body, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["unit_code"] == "SH001"
    assert made["name"] == "李伟" and made["first_name"] == "伟"
    assert made["tags"] == ["vip", "east"]
    assert made["attributes"] == {"tier": "gold", "spend": 1200.5}
    assert sorted((i["kind"], i["value"], i["verified"]) for i in made["identities"]) == [
        ("email", "Li.Wei@example.com", False),
        ("phone", "+8613800138000", False),
    ]
    # The same person by phone only, written differently: the same record, updated.
    again = client.post(
        "/api/v1/contacts",
        json={"identities": {"phone": "+86 13800138000"}, "attributes": {"tier": "platinum", "spend": None}},
        headers=org.auth("cx"),
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == made["id"]
    assert again.json()["attributes"] == {"tier": "platinum"}
    assert again.json()["unit_code"] == "SH001"
    assert rows(client.app.state.settings.effective_database_url, "SELECT count(*) FROM contacts") == [(1,)]  # type: ignore[attr-defined]
    fetched = client.get(f"/api/v1/contacts/{made['id']}", headers=org.auth("east"))
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "李伟"


def test_a_raw_database_read_reveals_no_email_phone_or_name(
    client: TestClient, org: Org, database_url: str
) -> None:
    make_contact(
        client,
        org,
        identities={"email": "secret.person@example.com", "phone": "13900139000", "member_id": "M-777"},
        name="王秘密",
    )
    dump = " ".join(
        str(value)
        for table in ("contacts", "contact_identities")
        for row in rows(database_url, f"SELECT * FROM {table}")
        for value in row
    )
    for clear in ("secret.person", "example.com", "13900139000", "+8613900139000", "M-777", "王秘密"):
        assert clear not in dump
    stored = rows(database_url, "SELECT kind, value_enc, blind_index FROM contact_identities ORDER BY kind")
    assert [kind for kind, _, _ in stored] == ["email", "member_id", "phone"]
    for _kind, value_enc, blind in stored:
        assert value_enc.startswith("k1:") and len(blind) == 64


def test_bad_identities_answer_422_and_write_nothing(client: TestClient, org: Org, database_url: str) -> None:
    before = written(database_url)
    response = client.post(
        "/api/v1/contacts",
        json={"identities": {"email": "not-an-email", "phone": "12", "shoe_size": "42"}},
        headers=org.auth("cx"),
    )
    body = assert_problem(response, 422, "validation_failed")
    assert sorted(e["path"] for e in body["errors"]) == [
        "identities.email",
        "identities.phone",
        "identities.shoe_size",
    ]
    assert written(database_url) == before
    empty = client.post("/api/v1/contacts", json={"identities": {}}, headers=org.auth("cx"))
    assert_problem(empty, 422, "validation_failed")
    malformed = client.post(
        "/api/v1/contacts", content=b"{nope", headers={**org.auth("cx"), "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    bad_attr = client.post(
        "/api/v1/contacts",
        json={"identities": {"member_id": "x1"}, "attributes": {"Bad Key": 1}, "timezone": "Mars/Base"},
        headers=org.auth("cx"),
    )
    assert sorted(e["path"] for e in assert_problem(bad_attr, 422, "validation_failed")["errors"]) == [
        "attributes.Bad Key",
        "timezone",
    ]
    assert written(database_url) == before


def test_typed_attributes_follow_their_definitions(client: TestClient, org: Org) -> None:
    for key, kind in (("birthday", "date"), ("orders", "number"), ("vip", "boolean"), ("likes", "list")):
        defined = client.post(
            "/api/v1/contact-attributes", json={"key": key, "type": kind}, headers=org.auth("cx")
        )
        assert defined.status_code == 201, defined.text
    assert_problem(
        client.post(
            "/api/v1/contact-attributes", json={"key": "vip", "type": "text"}, headers=org.auth("cx")
        ),
        409,
        "attribute_exists",
    )
    assert_problem(
        client.post(
            "/api/v1/contact-attributes", json={"key": "x", "type": "text"}, headers=org.auth("east")
        ),
        403,
        "permission_denied",
    )
    wrong = client.post(
        "/api/v1/contacts",
        json={
            "identities": {"member_id": "m1"},
            "attributes": {"birthday": "31/12/1990", "orders": "3", "vip": "yes", "likes": "tea"},
        },
        headers=org.auth("cx"),
    )
    assert sorted(e["path"] for e in assert_problem(wrong, 422, "validation_failed")["errors"]) == [
        "attributes.birthday",
        "attributes.likes",
        "attributes.orders",
        "attributes.vip",
    ]
    right = make_contact(
        client,
        org,
        identities={"member_id": "m1"},
        attributes={"birthday": "1990-12-31", "orders": 3, "vip": True, "likes": ["tea"]},
    )
    assert right["attributes"] == {"birthday": "1990-12-31", "orders": 3, "vip": True, "likes": ["tea"]}
    listed = client.get("/api/v1/contact-attributes", headers=org.auth("analyst")).json()
    assert [(d["key"], d["type"]) for d in listed] == [
        ("birthday", "date"),
        ("likes", "list"),
        ("orders", "number"),
        ("vip", "boolean"),
    ]


def test_scope_follows_the_home_unit(client: TestClient, org: Org) -> None:
    east = make_contact(client, org, identities={"email": "a@example.com"}, unit_code="SH002")
    south = make_contact(client, org, identities={"email": "b@example.com"}, unit_code="GZ001")
    nowhere = make_contact(client, org, identities={"email": "c@example.com"})
    for who, visible in (("east", {east["id"]}), ("store", set()), ("analyst", {east["id"]})):
        listed = client.get("/api/v1/contacts", headers=org.auth(who))
        assert listed.status_code == 200
        assert {c["id"] for c in listed.json()["items"]} == visible, who
    for hidden in (south["id"], nowhere["id"], "01ARZ3NDEKTSV4RRFFQ69G5FAV"):
        response = client.get(f"/api/v1/contacts/{hidden}", headers=org.auth("east"))
        assert assert_problem(response, 404, "contact_not_found")["detail"] == "No such contact."
    assert {c["id"] for c in client.get("/api/v1/contacts", headers=org.auth("cx")).json()["items"]} == {
        east["id"],
        south["id"],
        nowhere["id"],
    }
    # A store manager must name a unit of its own, and may not touch a contact of another unit.
    no_unit = client.post(
        "/api/v1/contacts", json={"identities": {"email": "d@example.com"}}, headers=org.auth("store")
    )
    assert_problem(no_unit, 422, "validation_failed")
    other = client.post(
        "/api/v1/contacts",
        json={"identities": {"email": "b@example.com"}, "unit_code": "SH001"},
        headers=org.auth("store"),
    )
    assert_problem(other, 409, "contact_out_of_scope")
    agent = client.post(
        "/api/v1/contacts",
        json={"identities": {"email": "e@example.com"}, "unit_code": "SH001"},
        headers=org.auth("agent"),
    )
    assert_problem(agent, 403, "permission_denied")


def test_search_by_identity_tag_unit_and_attribute(client: TestClient, org: Org) -> None:
    one = make_contact(
        client,
        org,
        identities={"email": "x@example.com", "phone": "13700137000"},
        tags=["vip"],
        unit_code="SH001",
        attributes={"tier": "gold"},
    )
    two = make_contact(client, org, identities={"email": "y@example.com"}, tags=["new"], unit_code="GZ001")

    def ids(**params: str) -> list[str]:
        response = client.get("/api/v1/contacts", params=params, headers=org.auth("cx"))
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(kind="phone", value="+86 137 0013 7000") == [one["id"]]
    assert ids(kind="email", value="X@EXAMPLE.com") == [one["id"]]
    assert ids(kind="email", value="nobody@example.com") == []
    assert ids(tag="vip") == [one["id"]]
    assert ids(unit_code="SOUTH") == [two["id"]]
    assert ids(attribute="tier", attribute_value="gold") == [one["id"]]
    assert ids(attribute="tier") == [one["id"]]
    listed = client.get("/api/v1/contacts", params={"tag": "vip"}, headers=org.auth("cx")).json()["items"]
    assert listed[0]["email"] == "x@example.com" and listed[0]["phone"] == "+8613700137000"
    bad = client.get("/api/v1/contacts", params={"kind": "phone", "value": "abc"}, headers=org.auth("cx"))
    assert_problem(bad, 422, "validation_failed")
    paged = client.get("/api/v1/contacts", params={"limit": 1}, headers=org.auth("cx")).json()
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    rest = client.get(
        "/api/v1/contacts", params={"limit": 1, "cursor": paged["next_cursor"]}, headers=org.auth("cx")
    )
    assert [c["id"] for c in rest.json()["items"]] == [two["id"]]
