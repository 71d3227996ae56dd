"""Campaigns: audience preview, one-off launch, scheduled start, reminders
to non-responders (after N days, at most M), link expiry, recurring spread,
and the test send to yourself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution.campaigns import spread_offset
from cxloop.kit import clock
from tests.distribution.helpers import configure_email, make_survey, rows
from tests.distribution.support import FakeDirectory, drive
from tests.factories import Org

UTC = dt.UTC
START = dt.datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def campaign(client: TestClient, org: Org, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/campaigns", json={"name": "Q4", **body}, headers=org.auth("cx"))
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def test_one_off_to_a_segment_with_reminders_and_expiry(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    inbox: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contacts = [people.add(email=f"c{i}@example.com", language="en") for i in range(3)]
    people.segments["SEG1"] = contacts
    monkeypatch.setattr(clock, "utc_now", lambda: START)

    preview = client.post(
        "/api/v1/campaigns/audience-preview", json={"segment_id": "SEG1"}, headers=org.auth("cx")
    )
    assert preview.json() == {"audience": 3}
    made = campaign(
        client,
        org,
        survey_id=survey_id,
        segment_id="SEG1",
        reminder_after_days=3,
        max_reminders=1,
        link_days=7,
    )
    assert made["status"] == "draft"
    assert client.get(f"/api/v1/campaigns/{made['id']}/preview", headers=org.auth("cx")).json() == {
        "audience": 3
    }
    launched = client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=org.auth("cx"))
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "finished"
    assert client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=org.auth("cx")).status_code == 409
    assert len(box.messages) == 3
    expiry = rows(database_url, "SELECT DISTINCT expires_at FROM survey_links")
    assert len(expiry) == 1

    # c0 answers (through its link): no reminder for it.
    rows_before = rows(
        database_url, "SELECT id FROM invitations WHERE contact_id = :c".replace(":c", f"'{contacts[0]}'")
    )
    from tests.distribution.support import complete

    complete(database_url, rows_before[0][0])
    assert drive(database_url, START + dt.timedelta(days=2))["reminders"] == 0
    assert drive(database_url, START + dt.timedelta(days=3))["reminders"] == 2
    assert len(box.messages) == 5
    reminders = [m[2]["Subject"] for m in box.messages[3:]]
    assert all(subject.startswith("Reminder: ") for subject in reminders)
    assert drive(database_url, START + dt.timedelta(days=6, hours=23))["reminders"] == 0  # at most one
    funnel = client.get(f"/api/v1/campaigns/{made['id']}", headers=org.auth("cx")).json()["funnel"]
    assert funnel == {"completed": 1, "sent": 2}
    keys = rows(database_url, "SELECT DISTINCT send_no FROM delivery_attempts ORDER BY send_no")
    assert keys == [(0,), (1,)]


def test_scheduled_start_and_list_audience(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    inbox: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    a, b = people.add(email="a@example.com"), people.add(email="b@example.com")
    monkeypatch.setattr(clock, "utc_now", lambda: START)
    later = (START + dt.timedelta(hours=5)).isoformat()
    made = campaign(client, org, survey_id=survey_id, contact_ids=[a, b, a, "GHOST"], starts_at=later)
    assert made["contact_count"] == 3
    assert (
        client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=org.auth("cx")).json()["status"]
        == "scheduled"
    )
    assert box.messages == []
    assert drive(database_url, START + dt.timedelta(hours=4))["campaigns"] == 0
    assert drive(database_url, START + dt.timedelta(hours=5))["campaigns"] == 3
    assert sorted(m[1][0] for m in box.messages) == ["a@example.com", "b@example.com"]
    funnel = client.get(f"/api/v1/campaigns/{made['id']}", headers=org.auth("cx")).json()
    assert funnel["status"] == "finished" and funnel["funnel"] == {"sent": 2, "skipped": 1}
    assert rows(database_url, "SELECT skip_reason FROM invitations WHERE status = 'skipped'") == [
        ("contact_not_found",)
    ]


def test_recurring_spreads_the_audience_over_the_cadence(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    inbox: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contacts = [people.add(email=f"r{i}@example.com") for i in range(40)]
    monkeypatch.setattr(clock, "utc_now", lambda: START)
    made = campaign(client, org, survey_id=survey_id, contact_ids=contacts, kind="recurring", cadence_days=30)
    client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=org.auth("cx"))
    offsets = sorted(spread_offset(made["id"], c, dt.timedelta(days=30)).total_seconds() for c in contacts)
    # Spread: every third of the period holds some of the audience.
    thirds = [sum(1 for o in offsets if k * 10 * 86400 <= o < (k + 1) * 10 * 86400) for k in range(3)]
    assert all(count >= 5 for count in thirds), thirds
    first_third = drive(database_url, START + dt.timedelta(days=10))["members"]
    assert first_third == thirds[0]
    assert drive(database_url, START + dt.timedelta(days=30))["members"] == 40 - thirds[0]
    assert len(box.messages) == 40
    # The next cycle asks each again, one period after its slot.
    assert drive(database_url, START + dt.timedelta(days=40))["members"] == thirds[0]


def test_test_send_goes_to_me_and_bad_campaigns_are_refused(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any, database_url: str
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    made = campaign(client, org, survey_id=survey_id, contact_ids=[people.add(email="x@example.com")])
    sent = client.post(
        f"/api/v1/campaigns/{made['id']}/test-send", json={"language": "en"}, headers=org.auth("cx")
    )
    assert sent.status_code == 202 and sent.json() == {"to": "cx@acme.test"}
    assert [m[1] for m in box.messages] == [["cx@acme.test"]]
    assert box.messages[0][2]["Subject"].startswith("Tell us about your experience: [TEST]")
    assert rows(database_url, "SELECT count(*) FROM invitations") == [(0,)]

    before = rows(database_url, "SELECT count(*) FROM campaigns")
    bad = [
        ({"survey_id": survey_id}, 422),
        ({"survey_id": survey_id, "segment_id": "S", "contact_ids": ["a"]}, 422),
        ({"survey_id": survey_id, "segment_id": "UNKNOWN"}, 404),
        ({"survey_id": "NOPE", "contact_ids": ["a"]}, 404),
        ({"survey_id": survey_id, "contact_ids": ["a"], "kind": "recurring"}, 422),
        ({"survey_id": survey_id, "contact_ids": ["a"], "max_reminders": 2}, 422),
        ({"survey_id": survey_id, "contact_ids": ["a"], "starts_at": "tomorrow"}, 422),
    ]
    for body, status in bad:
        answer = client.post("/api/v1/campaigns", json={"name": "x", **body}, headers=org.auth("cx"))
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert rows(database_url, "SELECT count(*) FROM campaigns") == before
    assert (
        client.post(
            "/api/v1/campaigns",
            json={"name": "x", "survey_id": survey_id, "contact_ids": ["a"]},
            headers=org.auth("store"),
        ).status_code
        == 403
    )
    assert client.get("/api/v1/campaigns/NOPE", headers=org.auth("cx")).status_code == 404
