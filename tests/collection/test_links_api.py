"""The links API on both databases: personal links for every role, scope,
validation with paths and nothing left behind, idempotency, anonymous links."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.collection.links import link_id_from, personal_token, sign_params, verified_params
from tests.collection.respond_helpers import flow, publish
from tests.collection.support import rows
from tests.factories import Org, make_org

SECRET = "test-secret-key-" + "x" * 32


def post(client: TestClient, org: Org, survey_id: str, body: Any, who: str = "cx", **headers: str) -> Any:
    return client.post(f"/api/v1/surveys/{survey_id}/links", json=body, headers={**org.auth(who), **headers})


def links_count(database_url: str) -> int:
    return int(rows(database_url, "SELECT count(*) FROM survey_links")[0][0])


def test_personal_links_are_signed_urls_and_replay_by_idempotency_key(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    body = {
        "items": [
            {"contact": {"first_name": "Wei", "email": "wei@example.com"}, "unit_code": "SH001"},
            {
                "channel": "wechat",
                "language": "en",
                "embedded": {"store_name": "A"},
                "expires_at": "2099-01-01T00:00:00+08:00",
            },
        ]
    }
    made = post(client, org, survey_id, body, **{"Idempotency-Key": "links-1"})
    assert made.status_code == 201, made.text
    first, second = made.json()["items"]
    assert first["path"] == f"/s/{survey_id}?t={personal_token(SECRET, first['id'])}"
    assert first["url"] == "http://testserver" + first["path"]
    assert link_id_from(SECRET, first["path"].split("t=")[1]) == first["id"]
    assert {
        k: first[k] for k in ("contact", "unit_code", "channel", "touchpoint", "language", "embedded")
    } == {
        "contact": {"first_name": "Wei", "email": "wei@example.com"},
        "unit_code": "SH001",
        "channel": "link",
        "touchpoint": None,
        "language": None,
        "embedded": {},
    }
    assert (second["channel"], second["language"], second["expires_at"]) == (
        "wechat",
        "en",
        "2098-12-31T16:00:00Z",
    )
    replay = post(client, org, survey_id, body, **{"Idempotency-Key": "links-1"})
    assert replay.status_code == 200 and replay.json() == made.json()
    assert links_count(database_url) == 2
    unit_of = dict(rows(database_url, "SELECT id, unit_id FROM survey_links"))
    assert unit_of == {first["id"]: org.unit_ids["SH001"], second["id"]: None}


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 201), ("cx", 201), ("east", 201), ("store", 201), ("agent", 403), ("analyst", 403)],
)
def test_every_role(client: TestClient, org: Org, database_url: str, who: str, status: int) -> None:
    survey_id = publish(client, org, flow())
    answer = post(client, org, survey_id, {"items": [{"unit_code": "SH001"}]}, who=who)
    assert answer.status_code == status, answer.text
    assert links_count(database_url) == (1 if status == 201 else 0)


def test_units_out_of_scope_and_bad_items_refuse_the_whole_request(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    body = {
        "items": [
            {"unit_code": "SH001"},
            {"unit_code": "GZ001"},
            {},
            {
                "unit_code": "SH001",
                "language": "fr",
                "expires_at": "2020-01-01T00:00:00Z",
                "embedded": {"nope": "x"},
            },
        ]
    }
    answer = post(client, org, survey_id, body, who="store")
    assert answer.status_code == 422
    assert [(e["path"], e["message"]) for e in answer.json()["errors"]] == [
        ("items[1].unit_code", "No unit 'GZ001'."),
        ("items[2].unit_code", "is required: you may make links for your units only"),
        ("items[3].language", "must be one of zh-CN, en, zh-TW"),
        ("items[3].expires_at", "must be in the future"),
        ("items[3].embedded.nope", "'nope' is not an embedded field of this survey"),
    ]
    assert links_count(database_url) == 0
    too_many = post(client, org, survey_id, {"items": [{}] * 1001})
    assert too_many.status_code == 422
    extra = post(client, org, survey_id, {"items": [{"contact": {"email": "x"}, "colour": "red"}]})
    assert extra.status_code == 422
    not_finite = client.post(
        f"/api/v1/surveys/{survey_id}/links",
        content='{"items": [{"embedded": {"store_name": NaN}}, {"embedded": {"store_name": 1e400}}]}',
        headers={**org.auth("cx"), "content-type": "application/json"},
    )
    assert not_finite.status_code == 422
    assert links_count(database_url) == 0


def test_other_tenants_and_closed_surveys(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org, flow())
    other = make_org(database_url, slug="globex", email_domain="globex.test")
    hidden = post(client, other, survey_id, {"items": [{}]})
    missing = post(client, other, "01NOSUCHSURVEY0000000000000", {"items": [{}]})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "survey_not_found"
    assert client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).status_code == 200
    closed = post(client, org, survey_id, {"items": [{}]})
    assert closed.status_code == 409 and closed.json()["code"] == "survey_closed"
    assert links_count(database_url) == 0


def test_anonymous_links_sign_their_parameters(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org, flow())
    made = client.post(
        f"/api/v1/surveys/{survey_id}/links/anonymous",
        json={"unit_code": "SH001", "touchpoint": "till 3", "embedded": {"store_name": "静安 & co"}},
        headers=org.auth("store"),
    )
    assert made.status_code == 201, made.text
    path = made.json()["path"]
    params = {"unit": "SH001", "touchpoint": "till 3", "e.store_name": "静安 & co"}
    assert path == (
        f"/s/{survey_id}?e.store_name=%E9%9D%99%E5%AE%89+%26+co&touchpoint=till+3&unit=SH001"
        f"&sig={sign_params(SECRET, survey_id, params)}"
    )
    plain = client.post(f"/api/v1/surveys/{survey_id}/links/anonymous", json={}, headers=org.auth("cx"))
    assert plain.status_code == 201 and plain.json()["path"] == f"/s/{survey_id}"
    scoped = client.post(
        f"/api/v1/surveys/{survey_id}/links/anonymous", json={"unit_code": "GZ001"}, headers=org.auth("store")
    )
    assert scoped.status_code == 422 and scoped.json()["errors"][0]["path"] == "unit_code"
    unscoped = client.post(f"/api/v1/surveys/{survey_id}/links/anonymous", json={}, headers=org.auth("store"))
    assert unscoped.status_code == 422
    assert (
        client.post(
            f"/api/v1/surveys/{survey_id}/links/anonymous", json={}, headers=org.auth("analyst")
        ).status_code
        == 403
    )


class Query:
    def __init__(self, *items: tuple[str, str]) -> None:
        self.items = list(items)

    def multi_items(self) -> list[tuple[str, str]]:
        return self.items


def test_signatures_cover_exactly_the_signed_parameters() -> None:
    params = {"unit": "SH001", "e.store": "A"}
    sig = sign_params(SECRET, "S1", params)
    assert verified_params(SECRET, "S1", Query(("unit", "SH001"), ("e.store", "A"), ("sig", sig))) == params
    assert (
        verified_params(SECRET, "S1", Query(("unit", "SH001"), ("e.store", "A"), ("sig", sig), ("x", "1")))
        == params
    )
    assert verified_params(SECRET, "S2", Query(("unit", "SH001"), ("e.store", "A"), ("sig", sig))) == {}
    assert verified_params(SECRET, "S1", Query(("unit", "SH001"), ("sig", sig))) == {}
    assert (
        verified_params(SECRET, "S1", Query(("unit", "SH001"), ("unit", "X"), ("e.store", "A"), ("sig", sig)))
        == {}
    )
    assert (
        verified_params(
            "another-secret-" + "y" * 32, "S1", Query(("unit", "SH001"), ("e.store", "A"), ("sig", sig))
        )
        == {}
    )
    assert verified_params(SECRET, "S1", Query(("unit", "SH001"), ("e.store", "A"))) == {}
    # A personal token is no anonymous signature and the reverse: each purpose has its salt.
    assert link_id_from(SECRET, sig) is None
    assert link_id_from(SECRET, personal_token(SECRET, "L1")) == "L1"
    assert link_id_from(SECRET, personal_token("another-secret-" + "y" * 32, "L1")) is None
