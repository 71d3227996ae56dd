"""Delivery batches with the real customer directory (``cxloop.customers``,
not the in-memory stand-in): a consent withdrawn after the invitations were
made stops its message and the rest of the batch goes out, a merged contact
is reached through its survivor, and a batch reads its recipients in a fixed
number of queries whatever its size."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from cxloop.distribution.delivery import deliver_batch
from cxloop.distribution.directory import use_directory
from cxloop.distribution.models import Invitation
from cxloop.kit import clock
from cxloop.kit.db import Database
from tests.distribution.helpers import configure_email, invite, make_survey, rows
from tests.distribution.support import drive
from tests.factories import Org

UTC = dt.UTC
DIRECTORY_TABLES = ("contacts", "contact_identities", "consent_records", "consent_policies")


@pytest.fixture(autouse=True)
def real_directory(people: Any) -> Iterator[None]:
    use_directory(None)  # the autouse stand-in is put back by its own fixture
    yield


def contact(client: TestClient, org: Org, email: str, **body: Any) -> str:
    answer = client.post(
        "/api/v1/contacts",
        json={"identities": {"email": email}, "timezone": "UTC", **body},
        headers=org.auth("cx"),
    )
    assert answer.status_code in (200, 201), answer.text
    contact_id: str = answer.json()["id"]
    return contact_id


def withdraw(client: TestClient, org: Org, contact_id: str, channel: str) -> None:
    answer = client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={"channel": channel, "granted": False, "source": "api"},
        headers=org.auth("cx"),
    )
    assert answer.status_code == 201, answer.text


def held_invitations(client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch, port: int) -> str:
    """Email configured, quiet hours all day long and the clock inside them:
    invitations made now wait for the tick, so changes can land in between."""
    configure_email(client, org, port)
    answer = client.put(
        "/api/v1/sending-policy",
        json={"quiet_start": "00:00", "quiet_end": "23:59", "fallback_order": ["email"]},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200, answer.text
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
    return make_survey(client, org)


def test_a_withdrawal_after_the_invitations_were_made_stops_only_its_message(
    client: TestClient, org: Org, inbox: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, controller = inbox
    survey_id = held_invitations(client, org, monkeypatch, controller.port)
    contacts = [
        contact(client, org, f"r{i}@example.com", first_name=f"R{i}", language="en") for i in range(4)
    ]
    made = [invite(client, org, each, survey_id)["id"] for each in contacts]
    assert {status for (status,) in rows(database_url, "SELECT status FROM invitations")} == {"scheduled"}
    # While they wait: one contact unsubscribes from email, another only from SMS.
    withdraw(client, org, contacts[1], "email")
    withdraw(client, org, contacts[3], "sms")
    # And a verified upsert folds contact 2 and another record of the same person together.
    phone_only = client.post(
        "/api/v1/contacts", json={"identities": {"phone": "13700137000"}}, headers=org.auth("cx")
    )
    assert phone_only.status_code == 201, phone_only.text
    merged = client.post(
        "/api/v1/contacts",
        json={
            "identities": {"email": "r2@example.com", "phone": "13700137000"},
            "verified": ["email", "phone"],
        },
        headers=org.auth("cx"),
    )
    assert merged.status_code == 200, merged.text
    assert rows(database_url, "SELECT count(*) FROM contacts WHERE merged_into IS NOT NULL") == [(1,)]

    drive(database_url, dt.datetime(2026, 12, 1, 23, 59, tzinfo=UTC))

    statuses = {
        invitation_id: (status, reason)
        for invitation_id, status, reason in rows(
            database_url, "SELECT id, status, skip_reason FROM invitations"
        )
    }
    assert [statuses[each] for each in made] == [
        ("sent", None),
        ("skipped", "consent_withdrawn"),
        ("sent", None),
        ("sent", None),
    ]
    assert sorted(message[1][0] for message in box.messages) == [
        "r0@example.com",
        "r2@example.com",
        "r3@example.com",
    ]
    greetings = {
        message[1][0]: str(message[2].get_body(("plain",)).get_content()).splitlines()[0]
        for message in box.messages
    }
    assert greetings == {
        "r0@example.com": "Hello R0,",
        "r2@example.com": "Hello R2,",
        "r3@example.com": "Hello R3,",
    }
    assert rows(database_url, "SELECT count(*) FROM outbox_jobs WHERE name = 'distribution.deliver'") == [
        (1,)
    ]
    assert rows(database_url, "SELECT count(*), min(outcome) FROM delivery_attempts") == [(3, "sent")]


@contextmanager
def directory_reads(db: Database) -> Iterator[list[str]]:
    """The SELECTs on the customer directory's tables run on ``db`` inside the block."""
    reads: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith("SELECT") and any(
            f"FROM {table.upper()} " in head + " " for table in DIRECTORY_TABLES
        ):
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield reads
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


async def _deliver_counting(url: str, ids: list[str]) -> tuple[list[str], int]:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            await session.execute(
                update(Invitation).where(Invitation.id.in_(ids)).values(status="queued", due_at=None)
            )
            with directory_reads(db) as reads:
                answers = await deliver_batch(session, ids)
            await session.commit()
        return answers, len(reads)
    finally:
        await db.dispose()


def test_a_batch_reads_its_recipients_in_the_same_few_queries_whatever_its_size(
    client: TestClient, org: Org, inbox: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, controller = inbox
    survey_id = held_invitations(client, org, monkeypatch, controller.port)
    small = [
        invite(client, org, contact(client, org, f"s{i}@example.com"), survey_id)["id"] for i in range(2)
    ]
    large = [
        invite(client, org, contact(client, org, f"l{i}@example.com"), survey_id)["id"] for i in range(8)
    ]

    small_answers, small_reads = asyncio.run(_deliver_counting(database_url, small))
    large_answers, large_reads = asyncio.run(_deliver_counting(database_url, large))

    assert (small_answers, large_answers) == (["sent"] * 2, ["sent"] * 8)
    assert len(box.messages) == 10
    # The contacts, their identities, the records holding the consent ledgers (merges),
    # the ledger, the consent policy: once per batch.
    assert (small_reads, large_reads) == (5, 5)
