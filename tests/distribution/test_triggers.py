"""Triggers through the real customer directory: an event in, a survey out,
by conditions, after a delay with a re-check, once per event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution.directory import use_directory
from cxloop.distribution.triggers import run_invitation_id
from cxloop.kit import clock
from cxloop.kit.ids import is_id
from tests.customers.support import make_contact, register_types
from tests.distribution.helpers import configure_email, make_survey, rows
from tests.distribution.support import drive
from tests.factories import Org

UTC = dt.UTC


@pytest.fixture
def real_directory() -> None:
    use_directory(None)


def trigger(client: TestClient, org: Org, survey_id: str, **body: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/triggers",
        json={"name": "after delivery", "event_type": "order_delivered", "survey_id": survey_id, **body},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def event(
    client: TestClient, org: Org, event_id: str, email: str, unit: str, amount: float, **extra: Any
) -> None:
    answer = client.post(
        "/api/v1/events",
        json={
            "id": event_id,
            "type": "order_delivered",
            "contact": {"email": email},
            "unit_code": unit,
            "attributes": {"order_amount": amount},
            **extra,
        },
        headers=org.auth("cx"),
    )
    assert answer.status_code in (200, 201), answer.text


CONDITIONS = [
    {"unit_subtree": "EAST"},
    {"field": "attributes.order_amount", "op": "gt", "value": 100},
]


def test_event_with_matching_conditions_sends_at_once(
    client: TestClient, org: Org, inbox: Any, database_url: str, real_directory: None
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    register_types(client, org, "order_delivered")
    survey_id = make_survey(client, org)
    made = trigger(client, org, survey_id, conditions=CONDITIONS, channel="email", touchpoint="delivery")
    contact = make_contact(
        client, org, identities={"email": "li@example.com"}, first_name="Li", language="en"
    )

    event(client, org, "e1", "li@example.com", "SH001", 150)  # East, over 100: sent
    event(client, org, "e2", "li@example.com", "GZ001", 150)  # South: not
    event(client, org, "e3", "li@example.com", "SH002", 99.5)  # too small: not
    event(client, org, "e1", "li@example.com", "SH001", 150)  # the same event again: once

    assert [m[1] for m in box.messages] == [["li@example.com"]]
    invitations = rows(database_url, "SELECT status, trigger_id, touchpoint, reason FROM invitations")
    assert invitations == [("sent", made["id"], "delivery", "trigger:after delivery")]
    # Zero delay: handed to the channel inside the event's job, no delivery job of its own.
    assert rows(database_url, "SELECT count(*) FROM outbox_jobs WHERE name = 'distribution.deliver'") == [
        (0,)
    ]
    listed = client.get("/api/v1/triggers", headers=org.auth("cx")).json()["items"]
    assert listed[0]["runs"] == {"sent": 1}
    timeline = client.get(f"/api/v1/contacts/{contact['id']}/timeline", headers=org.auth("cx"))
    assert timeline.status_code == 200, timeline.text
    assert '"kind":"invitation"' in timeline.text.replace(" ", "") and "email: sent" in timeline.text


def test_delay_then_recheck(
    client: TestClient,
    org: Org,
    inbox: Any,
    database_url: str,
    real_directory: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    register_types(client, org, "order_delivered")
    survey_id = make_survey(client, org)
    trigger(
        client,
        org,
        survey_id,
        delay_seconds=7200,
        recheck=[{"field": "contact.returned", "op": "ne", "value": True}],
    )
    make_contact(client, org, identities={"email": "keep@example.com"}, attributes={"returned": False})
    make_contact(client, org, identities={"email": "back@example.com"}, attributes={"returned": False})
    now = dt.datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(clock, "utc_now", lambda: now)
    at = now.isoformat()
    event(client, org, "k1", "keep@example.com", "SH001", 10, occurred_at=at)
    event(client, org, "b1", "back@example.com", "SH001", 10, occurred_at=at)
    assert box.messages == []
    assert rows(database_url, "SELECT count(*) FROM trigger_runs WHERE status = 'pending'") == [(2,)]
    # Meanwhile one order comes back.
    make_contact(client, org, identities={"email": "back@example.com"}, attributes={"returned": True})

    assert drive(database_url, now + dt.timedelta(seconds=7199))["trigger_runs"] == 0
    assert drive(database_url, now + dt.timedelta(seconds=7200))["trigger_runs"] == 2
    assert [m[1] for m in box.messages] == [["keep@example.com"]]
    outcomes = rows(database_url, "SELECT status, outcome FROM trigger_runs ORDER BY status")
    assert outcomes == [("sent", None), ("skipped", "recheck_failed")]


def test_bad_triggers_are_refused(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    bad = [
        ({"conditions": [{"field": "attributes.x", "op": "between", "value": 1}]}, 422),
        ({"conditions": [{"unit_subtree": ""}]}, 422),
        ({"conditions": "no"}, 422),
        ({"delay_seconds": -1}, 422),
        ({"channel": "pigeon"}, 422),
        ({"event_type": "Bad Type"}, 422),
        ({"survey_id": "NOPE"}, 404),
    ]
    for extra, status in bad:
        body = {"name": "t", "event_type": "order_delivered", "survey_id": survey_id, **extra}
        answer = client.post("/api/v1/triggers", json=body, headers=org.auth("admin"))
        assert answer.status_code == status, (extra, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    forbidden = client.post(
        "/api/v1/triggers",
        json={"name": "t", "event_type": "order_delivered", "survey_id": survey_id},
        headers=org.auth("store"),
    )
    assert forbidden.status_code == 403
    assert rows(database_url, "SELECT count(*) FROM triggers") == [(0,)]
    assert (
        client.patch("/api/v1/triggers/NOPE", json={"enabled": False}, headers=org.auth("admin")).status_code
        == 404
    )


def test_a_trigger_runs_invitation_id_is_the_same_on_every_retry() -> None:
    """A failed event job that had already sent makes the same invitation (and key) again."""
    at = dt.datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first = run_invitation_id("T1", "e1", at)
    assert first == run_invitation_id("T1", "e1", at) and is_id(first)
    assert len({first, run_invitation_id("T1", "e2", at), run_invitation_id("T2", "e1", at)}) == 3
    assert is_id(run_invitation_id("T1", "e1", dt.datetime(1960, 1, 1, tzinfo=UTC)))
