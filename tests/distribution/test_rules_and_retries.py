"""Frequency rules, quiet hours, retries with backoff, failing after N tries,
consent withdrawn mid-batch, and never sending one invitation twice."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution.delivery import deliver_invitation
from cxloop.kit import clock
from cxloop.kit.db import Database
from tests.distribution.helpers import configure_email, invite, make_survey, rows
from tests.distribution.support import FakeDirectory, drive, pending_jobs, run_pending
from tests.factories import Org

UTC = dt.UTC


def set_clock(monkeypatch: pytest.MonkeyPatch, at: dt.datetime) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: at)


def rule(client: TestClient, org: Org, **body: Any) -> None:
    answer = client.post("/api/v1/frequency-rules", json=body, headers=org.auth("admin"))
    assert answer.status_code == 201, answer.text


def status_of(database_url: str, invitation_id: str) -> tuple[Any, ...]:
    return rows(
        database_url, f"SELECT status, skip_reason, attempts FROM invitations WHERE id = '{invitation_id}'"
    )[0]


def test_frequency_rules_global_per_survey_and_by_attribute(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    first_survey, second_survey = make_survey(client, org), make_survey(client, org)
    rule(client, org, name="three a quarter", max_count=3, period_days=90)
    rule(
        client,
        org,
        name="vip every 60 days",
        attribute="tier",
        attribute_value="vip",
        max_count=1,
        period_days=60,
    )
    rule(client, org, name="one per survey a month", survey_id=first_survey, max_count=1, period_days=30)
    vip = people.add(email="vip@example.com", attributes={"tier": "vip"})
    regular = people.add(email="reg@example.com", attributes={"tier": "basic"})
    start = dt.datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

    set_clock(monkeypatch, start)
    assert invite(client, org, vip, first_survey)["status"] == "queued"
    assert invite(client, org, vip, second_survey)["skip_reason"] == "frequency:vip every 60 days"
    assert invite(client, org, regular, first_survey)["status"] == "queued"
    assert invite(client, org, regular, first_survey)["skip_reason"] == "frequency:one per survey a month"
    assert invite(client, org, regular, second_survey)["status"] == "queued"
    assert invite(client, org, regular, second_survey)["status"] == "queued"
    assert invite(client, org, regular, second_survey)["skip_reason"] == "frequency:three a quarter"
    # respect_frequency=False (a case follow-up) passes every rule, and counts for later ones.
    set_clock(monkeypatch, start + dt.timedelta(days=10))
    assert invite(client, org, vip, second_survey, respect_frequency=False)["status"] == "queued"

    set_clock(monkeypatch, start + dt.timedelta(days=61))
    assert invite(client, org, vip, second_survey)["skip_reason"] == "frequency:vip every 60 days"
    set_clock(monkeypatch, start + dt.timedelta(days=71))
    assert invite(client, org, vip, second_survey)["status"] == "queued"
    assert len(box.messages) == 6


def test_channel_rule_falls_back_to_the_next_channel(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    _box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    policy = client.put(
        "/api/v1/sending-policy", json={"fallback_order": ["email", "sms"]}, headers=org.auth("admin")
    )
    assert policy.status_code == 200, policy.text
    rule(client, org, name="one email a week", channel="email", max_count=1, period_days=7)
    contact = people.add(email="li@example.com", phone="+8613800000000")
    assert invite(client, org, contact, survey_id)["channel"] == "email"
    second = invite(client, org, contact, survey_id)
    assert second["skip_reason"] == "no_channel(email:frequency:one email a week,sms:not_configured)"


def test_quiet_hours_defer_to_the_contacts_morning(
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
    answer = client.put(
        "/api/v1/sending-policy",
        json={"quiet_start": "21:00", "quiet_end": "08:00", "fallback_order": ["email"]},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200
    shanghai = people.add(email="sh@example.com", timezone="Asia/Shanghai")
    london = people.add(email="ldn@example.com", timezone="Europe/London")
    night_in_shanghai = dt.datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, 14:30 in London
    set_clock(monkeypatch, night_in_shanghai)

    deferred = invite(client, org, shanghai, survey_id)
    now_ok = invite(client, org, london, survey_id)

    assert deferred["status"] == "scheduled"
    assert deferred["due_at"] == "2027-12-02T00:00:00Z".replace("2027", "2026")  # 08:00 Shanghai
    assert now_ok["status"] == "queued"
    assert [m[1] for m in box.messages] == [["ldn@example.com"]]
    assert drive(database_url, dt.datetime(2026, 12, 1, 23, 59, tzinfo=UTC))["released"] == 0
    assert drive(database_url, dt.datetime(2026, 12, 2, 0, 0, tzinfo=UTC))["released"] == 1
    assert status_of(database_url, deferred["id"])[0] == "sent"
    assert [m[1] for m in box.messages] == [["ldn@example.com"], ["sh@example.com"]]


def test_provider_fault_retries_with_backoff_then_fails_after_n(
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
    start = dt.datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    set_clock(monkeypatch, start)
    box.fail_data = 1
    flaky = invite(client, org, people.add(email="a@example.com"), survey_id)
    assert status_of(database_url, flaky["id"]) == ("retrying", None, 1)
    assert drive(database_url, start + dt.timedelta(seconds=29))["released"] == 0  # still backing off
    assert drive(database_url, start + dt.timedelta(seconds=30))["released"] == 1
    assert status_of(database_url, flaky["id"]) == ("sent", None, 2)
    keys = rows(
        database_url,
        "SELECT attempt, outcome, idempotency_key FROM delivery_attempts"
        f" WHERE invitation_id = '{flaky['id']}' ORDER BY attempt",
    )
    key = f"inv-{flaky['id']}-0"
    assert keys == [(1, "transient", key), (2, "sent", key)]
    assert len(box.messages) == 1

    box.fail_data = 100
    doomed = invite(client, org, people.add(email="b@example.com"), survey_id)
    at = start
    for attempt in range(1, 5):
        assert status_of(database_url, doomed["id"]) == ("retrying", None, attempt)
        at = at + dt.timedelta(hours=2)
        drive(database_url, at)
    assert status_of(database_url, doomed["id"]) == ("failed", None, 5)
    assert drive(database_url, at + dt.timedelta(days=1))["released"] == 0
    assert len(box.messages) == 1
    assert pending_jobs(database_url) == []  # nothing left behind, nothing lost


def test_unreachable_server_is_a_transient_fault(
    client: TestClient, org: Org, people: FakeDirectory, database_url: str
) -> None:
    from tests.distribution.support import free_port

    configure_email(client, org, free_port(), timeout=2)
    survey_id = make_survey(client, org)
    made = invite(client, org, people.add(email="a@example.com"), survey_id)
    status, _, attempts = status_of(database_url, made["id"])
    assert (status, attempts) == ("retrying", 1)


def test_permanent_refusal_fails_at_once(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any, database_url: str
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    box.refuse["bad@example.com"] = 550
    made = invite(client, org, people.add(email="bad@example.com"), make_survey(client, org))
    assert status_of(database_url, made["id"]) == ("failed", None, 1)


def test_consent_withdrawn_mid_batch_is_honoured_and_nothing_is_sent_twice(
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
    client.put(
        "/api/v1/sending-policy",
        json={"quiet_start": "00:00", "quiet_end": "23:59", "fallback_order": ["email"]},
        headers=org.auth("admin"),
    )
    set_clock(monkeypatch, dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC))  # quiet: the batch waits
    contacts = [people.add(email=f"c{i}@example.com", timezone="UTC") for i in range(3)]
    made = [invite(client, org, contact, survey_id)["id"] for contact in contacts]
    assert {status_of(database_url, i)[0] for i in made} == {"scheduled"}

    people.consents[(contacts[1], "email")] = False  # arrives after the invitations were made
    drive(database_url, dt.datetime(2026, 12, 1, 23, 59, tzinfo=UTC))

    assert [status_of(database_url, i)[:2] for i in made] == [
        ("sent", None),
        ("skipped", "consent_withdrawn"),
        ("sent", None),
    ]
    assert sorted(m[1][0] for m in box.messages) == ["c0@example.com", "c2@example.com"]
    # The tick released the three in one batch job (ADR 0016, amendment).
    assert rows(database_url, "SELECT count(*) FROM outbox_jobs WHERE name = 'distribution.deliver'") == [
        (1,)
    ]

    # A duplicate delivery job (a worker that died, a relay that re-sent) sends nothing.
    async def again() -> list[str]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                answers = [await deliver_invitation(session, i) for i in made]
                await session.commit()
            return answers
        finally:
            await db.dispose()

    assert asyncio.run(again()) == ["sent", "skipped", "sent"]
    asyncio.run(_rerun_done(database_url))
    assert len(box.messages) == 2


async def _rerun_done(database_url: str) -> None:
    db = Database(database_url)
    try:
        ids = [
            row[0]
            for row in rows(database_url, "SELECT id FROM outbox_jobs WHERE name = 'distribution.deliver'")
        ]
        await run_pending(db, ids)
    finally:
        await db.dispose()


def test_starttls_and_auth(
    client: TestClient, org: Org, people: FakeDirectory, tls_inbox: Any, database_url: str
) -> None:
    box, controller = tls_inbox
    configure_email(
        client,
        org,
        controller.port,
        security="starttls",
        username="mailer",
        password="s3cret",
        verify_tls=False,
    )
    listed = client.get("/api/v1/channels", headers=org.auth("admin")).json()["items"][0]
    assert listed["config"]["password"] == "********"
    made = invite(client, org, people.add(email="li@example.com"), make_survey(client, org))
    assert status_of(database_url, made["id"])[0] == "sent"
    assert len(box.messages) == 1

    configure_email(
        client,
        org,
        controller.port,
        security="starttls",
        username="mailer",
        password="wrong",
        verify_tls=False,
    )
    refused = invite(client, org, people.add(email="x@example.com"), make_survey(client, org))
    assert status_of(database_url, refused["id"])[0] == "failed"
