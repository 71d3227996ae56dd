"""Events (single, batch, idempotent, subscribers), journeys, the timeline, segments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers import (
    TimelineEntry,
    register_timeline_source,
    segment_contact_ids,
    subscribe_events,
    unsubscribe_events,
)
from cxloop.customers.timeline import unregister_timeline_source
from cxloop.kit.db import Database
from cxloop.kit.errors import NotFound
from tests.customers.support import make_contact, make_nps_survey, register_types, rows, written
from tests.factories import Org, run
from tests.identity.support import assert_problem

SEEN: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def listening() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    SEEN.clear()

    @subscribe_events("tests.listen")
    async def listen(session: AsyncSession, event_id: str, payload: dict[str, Any]) -> None:
        SEEN.append((event_id, payload))

    yield SEEN
    unsubscribe_events("tests.listen")


def _event(**extra: Any) -> dict[str, Any]:
    return {
        "id": "ord-1-delivered",
        "type": "order_delivered",
        "occurred_at": "2026-11-30T08:00:00+00:00",
        "contact": {"phone": "13800138000", "member_id": "M1"},
        "unit_code": "SH001",
        "attributes": {"order_no": "A-1", "amount": 128.5},
        **extra,
    }


def test_an_event_creates_the_contact_and_reaches_subscribers_once(
    client: TestClient, org: Org, database_url: str, listening: list[tuple[str, dict[str, Any]]]
) -> None:
    register_types(client, org, "order_delivered")
    first = client.post("/api/v1/events", json=_event(), headers=org.auth("east"))
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["external_id"] == "ord-1-delivered" and stored["replayed"] is False
    assert stored["unit_code"] == "SH001" and stored["contact_id"]
    again = client.post("/api/v1/events", json=_event(), headers=org.auth("east"))
    assert again.status_code == 200
    assert again.json()["id"] == stored["id"] and again.json()["replayed"] is True
    assert rows(database_url, "SELECT count(*) FROM contact_events") == [(1,)]
    assert listening == [
        (
            stored["id"],
            {
                "tenant_id": org.tenant_id,
                "event_id": stored["id"],
                "external_id": "ord-1-delivered",
                "type": "order_delivered",
                "occurred_at": "2026-11-30T08:00:00+00:00",
                "contact_id": stored["contact_id"],
                "unit_id": org.unit_ids["SH001"],
                "unit_code": "SH001",
                "attributes": {"order_no": "A-1", "amount": 128.5},
            },
        )
    ]
    contact = client.get(f"/api/v1/contacts/{stored['contact_id']}", headers=org.auth("store")).json()
    assert contact["unit_code"] == "SH001"
    assert sorted(i["kind"] for i in contact["identities"]) == ["member_id", "phone"]


def test_unknown_types_and_bad_items_refuse_the_whole_batch(
    client: TestClient, org: Org, database_url: str, listening: list[tuple[str, dict[str, Any]]]
) -> None:
    register_types(client, org, "order_delivered", "app_login")
    before = written(database_url)
    unknown = client.post("/api/v1/events", json=_event(type="order_lost"), headers=org.auth("cx"))
    body = assert_problem(unknown, 422, "unknown_event_type")
    assert body["errors"] == [
        {
            "path": "type",
            "message": "unknown event type 'order_lost'; known types: app_login, order_delivered",
        }
    ]
    batch = {
        "events": [
            _event(id="e1"),
            _event(id="e2", contact={"email": "bad"}),
            _event(id="e3", unit_code="NOPE"),
            {"id": "e4"},
            _event(id="e5", occurred_at="2099-01-01T00:00:00Z"),
        ]
    }
    refused = client.post("/api/v1/events", json=batch, headers=org.auth("cx"))
    paths = [e["path"] for e in assert_problem(refused, 422, "validation_failed")["errors"]]
    assert paths == [
        "events[1].contact.email",
        "events[2].unit_code",
        "events[3].type",
        "events[4].occurred_at",
    ]
    for bad in (b"{nope", b"[1, 2]", b'"text"', b'{"events": []}', b'{"events": [], "x": 1}'):
        response = client.post(
            "/api/v1/events", content=bad, headers={**org.auth("cx"), "content-type": "application/json"}
        )
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
    assert written(database_url) == before
    assert listening == []
    out_of_scope = client.post("/api/v1/events", json=_event(unit_code="GZ001"), headers=org.auth("east"))
    assert_problem(out_of_scope, 422, "validation_failed")
    assert_problem(
        client.post("/api/v1/events", json=_event(), headers=org.auth("analyst")), 403, "permission_denied"
    )


def test_a_batch_stores_each_new_event_once_with_one_job(
    client: TestClient, org: Org, database_url: str, listening: list[tuple[str, dict[str, Any]]]
) -> None:
    register_types(client, org, "order_delivered")
    jobs_before = rows(database_url, "SELECT count(*) FROM outbox_jobs")[0][0]
    batch = {
        "events": [_event(id=f"b{i}", contact={"member_id": f"M{i % 2}"}) for i in range(4)]
        + [_event(id="b0")]
    }
    response = client.post("/api/v1/events", json=batch, headers=org.auth("cx"))
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert [r["replayed"] for r in results] == [False, False, False, False, True]
    assert results[4]["id"] == results[0]["id"]
    assert rows(database_url, "SELECT count(*) FROM contact_events") == [(4,)]
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(2,)]
    assert rows(database_url, "SELECT count(*) FROM outbox_jobs")[0][0] == jobs_before + 1
    assert len(listening) == 4


def test_journeys_crud(client: TestClient, org: Org) -> None:
    journey = {
        "key": "purchase",
        "name": {"zh-CN": "购买旅程", "en": "Purchase"},
        "stages": [
            {"key": "browse", "name": {"en": "Browse"}, "touchpoints": [{"key": "web_visit"}]},
            {"key": "order", "touchpoints": [{"key": "checkout"}]},
            {"key": "delivery", "touchpoints": [{"key": "delivered"}]},
            {"key": "after_sales", "touchpoints": [{"key": "support_call"}]},
        ],
    }
    created = client.post("/api/v1/journeys", json=journey, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    jid = created.json()["id"]
    assert [s["key"] for s in created.json()["stages"]] == ["browse", "order", "delivery", "after_sales"]
    assert_problem(
        client.post("/api/v1/journeys", json=journey, headers=org.auth("cx")), 409, "journey_exists"
    )
    twice = {**journey, "key": "other", "stages": [{"key": "a", "touchpoints": [{"key": "t"}, {"key": "t"}]}]}
    bad = assert_problem(
        client.post("/api/v1/journeys", json=twice, headers=org.auth("cx")), 422, "validation_failed"
    )
    assert bad["errors"][0]["path"] == "stages[0].touchpoints[1].key"
    assert_problem(
        client.post("/api/v1/journeys", json=journey, headers=org.auth("east")), 403, "permission_denied"
    )
    journey["stages"] = journey["stages"][:2]
    replaced = client.put(f"/api/v1/journeys/{jid}", json=journey, headers=org.auth("cx"))
    assert [s["key"] for s in replaced.json()["stages"]] == ["browse", "order"]
    assert [j["key"] for j in client.get("/api/v1/journeys", headers=org.auth("agent")).json()] == [
        "purchase"
    ]
    assert client.delete(f"/api/v1/journeys/{jid}", headers=org.auth("cx")).status_code == 204
    assert_problem(client.get(f"/api/v1/journeys/{jid}", headers=org.auth("cx")), 404, "journey_not_found")


def test_timeline_merges_events_responses_and_sources(client: TestClient, org: Org) -> None:
    register_types(client, org, "order_delivered")
    survey_id = make_nps_survey(client, org)
    contact = make_contact(client, org, identities={"email": "t@example.com"}, unit_code="SH001")
    client.post("/api/v1/events", json=_event(contact={"email": "t@example.com"}), headers=org.auth("cx"))
    submitted = client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        json={
            "answers": {"nps": 3},
            "unit_code": "SH001",
            "contact": {"email": "T@example.com"},
            "submitted_at": "2026-11-30T09:00:00+00:00",
        },
        headers=org.auth("cx"),
    )
    assert submitted.status_code == 201, submitted.text

    async def invitations(
        session: AsyncSession, tenant_id: str, contact_id: str, limit: int
    ) -> list[TimelineEntry]:
        return [
            TimelineEntry(
                at=datetime(2026, 11, 30, 8, 30, tzinfo=UTC),
                kind="invitation",
                title="sent",
                detail={},
                ref="inv1",
            )
        ]

    async def broken(
        session: AsyncSession, tenant_id: str, contact_id: str, limit: int
    ) -> list[TimelineEntry]:
        raise RuntimeError("down")

    register_timeline_source("tests.invitations", invitations)
    register_timeline_source("tests.broken", broken)
    try:
        response = client.get(f"/api/v1/contacts/{contact['id']}/timeline", headers=org.auth("store"))
    finally:
        unregister_timeline_source("tests.invitations")
        unregister_timeline_source("tests.broken")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["kind"], i["title"]) for i in items] == [
        ("response", "response"),
        ("invitation", "sent"),
        ("event", "order_delivered"),
    ]
    assert items[0]["ref"] == submitted.json()["id"]
    assert items[0]["detail"] == {"survey_id": survey_id}
    hidden = client.get(f"/api/v1/contacts/{contact['id']}/timeline", headers=org.auth("analyst"))
    assert hidden.status_code == 200
    south = make_contact(client, org, identities={"email": "g@example.com"}, unit_code="GZ001")
    gz = client.get(f"/api/v1/contacts/{south['id']}/timeline", headers=org.auth("east"))
    assert_problem(gz, 404, "contact_not_found")


def test_segments_over_attributes_tags_units_events_and_responses(
    client: TestClient, org: Org, database_url: str
) -> None:
    register_types(client, org, "order_delivered")
    survey_id = make_nps_survey(client, org)
    client.post("/api/v1/contact-attributes", json={"key": "spend", "type": "number"}, headers=org.auth("cx"))
    vip_east = make_contact(
        client,
        org,
        identities={"member_id": "V1"},
        tags=["vip"],
        unit_code="SH001",
        attributes={"spend": 5000, "tier": "gold"},
    )
    vip_south = make_contact(
        client,
        org,
        identities={"member_id": "V2"},
        tags=["vip"],
        unit_code="GZ001",
        attributes={"spend": 200},
    )
    plain_east = make_contact(
        client,
        org,
        identities={"member_id": "P1", "email": "p1@example.com"},
        unit_code="SH002",
        attributes={"spend": 50},
    )
    recent = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    old = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    for who, nps, when in (("p1@example.com", 4, recent), ("p1@example.com", 10, old)):
        response = client.post(
            f"/api/v1/surveys/{survey_id}/responses",
            json={
                "answers": {"nps": nps},
                "unit_code": "SH002",
                "contact": {"email": who},
                "submitted_at": when,
            },
            headers=org.auth("cx"),
        )
        assert response.status_code == 201, response.text
    client.post(
        "/api/v1/events",
        json=_event(contact={"member_id": "V2"}, occurred_at=recent, unit_code="GZ001"),
        headers=org.auth("cx"),
    )

    def count(filter_: dict[str, Any], who: str = "cx") -> int:
        response = client.post("/api/v1/segments/preview", json={"filter": filter_}, headers=org.auth(who))
        assert response.status_code == 200, response.text
        return int(response.json()["count"])

    assert count({"conditions": []}) == 3
    assert count({"conditions": [{"tag": "vip"}]}) == 2
    assert count({"conditions": [{"tag": "vip"}, {"unit_code": "EAST"}]}) == 1
    assert count({"conditions": [{"tag": "vip", "present": False}]}) == 1
    assert count({"conditions": [{"attribute": "spend", "op": "gte", "value": 200}]}) == 2
    assert count({"conditions": [{"attribute": "tier", "value": "gold"}]}) == 1
    assert count({"conditions": [{"attribute": "tier", "op": "missing"}]}) == 2
    assert count({"conditions": [{"attribute": "spend", "op": "in", "value": [50, 200]}]}) == 2
    assert count({"conditions": [{"event": "order_delivered", "within_days": 7}]}) == 1
    detractors = {
        "conditions": [{"response": {"question_id": "nps", "op": "lte", "value": 6, "within_days": 90}}]
    }
    assert count(detractors) == 1
    assert (
        count(
            {"conditions": [{"response": {"question_id": "nps", "op": "gte", "value": 9, "within_days": 90}}]}
        )
        == 0
    )
    assert count({"match": "any", "conditions": [{"tag": "vip"}, detractors["conditions"][0]]}) == 3
    assert count({"conditions": [{"tag": "vip"}]}, who="east") == 1
    for bad in (
        {"conditions": [{"unit_code": "NOPE"}]},
        {"conditions": [{"attribute": "Spend"}]},
        {"conditions": [{"tag": "vip", "extra": 1}]},
        {"conditions": [{"attribute": "x", "op": "in", "value": 3}]},
        {"conditions": "__import__('os')"},
    ):
        refused = client.post("/api/v1/segments/preview", json={"filter": bad}, headers=org.auth("cx"))
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    saved = client.post(
        "/api/v1/segments",
        json={"name": "VIPs", "filter": {"conditions": [{"tag": "vip"}]}},
        headers=org.auth("cx"),
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["count"] == 2
    assert_problem(
        client.post("/api/v1/segments", json={"name": "VIPs", "filter": {}}, headers=org.auth("cx")),
        409,
        "segment_exists",
    )
    listed = client.get("/api/v1/segments", headers=org.auth("east")).json()
    assert [(s["name"], s["count"]) for s in listed] == [("VIPs", 1)]

    async def ids(segment_id: str) -> list[str]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await segment_contact_ids(session, org.tenant_id, segment_id)
        finally:
            await db.dispose()

    assert run(ids(saved.json()["id"])) == sorted([vip_east["id"], vip_south["id"]])
    with pytest.raises(NotFound):
        run(ids("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    assert plain_east["id"] not in run(ids(saved.json()["id"]))


def test_event_attributes_take_any_bounded_json(client: TestClient, org: Org, database_url: str) -> None:
    register_types(client, org, "order_delivered")
    nested = {"orderNo": "A-9", "items": [{"sku": "X1", "qty": 2}], "amount": 99.5}
    stored = client.post("/api/v1/events", json=_event(id="n1", attributes=nested), headers=org.auth("cx"))
    assert stored.status_code == 201, stored.text
    assert stored.json()["attributes"] == nested
    before = written(database_url)
    for body in (
        b'{"id": "n2", "type": "order_delivered", "attributes": {"amount": NaN}}',
        b'{"id": "n3", "type": "order_delivered", "attributes": {"big": "' + b"x" * 20_000 + b'"}}',
    ):
        refused = client.post(
            "/api/v1/events", content=body, headers={**org.auth("cx"), "content-type": "application/json"}
        )
        assert_problem(refused, 422, "validation_failed")
    nan_contact = client.post(
        "/api/v1/contacts",
        content=b'{"identities": {"member_id": "z"}, "attributes": {"scores": [1, NaN]}}',
        headers={**org.auth("cx"), "content-type": "application/json"},
    )
    assert nan_contact.status_code == 422
    assert written(database_url) == before
