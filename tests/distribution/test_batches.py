"""Bulk delivery in batches (ADR 0016, amendment): a batch that dies before
its commit is sent again with the same Message-IDs, a repeated id in one
batch is sent once, and a finished batch sends nothing when run again."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cxloop.distribution.delivery import deliver_batch
from cxloop.distribution.models import Invitation
from cxloop.kit import clock
from cxloop.kit.db import Database
from tests.distribution.helpers import configure_email, invite, make_survey, rows
from tests.distribution.support import FakeDirectory
from tests.factories import Org

UTC = dt.UTC


async def _run_batch(url: str, ids: list[str], *, commit: bool) -> list[str]:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            answers = await deliver_batch(session, ids)
            if commit:
                await session.commit()
            else:
                await session.rollback()  # the worker died before its commit
            return answers
    finally:
        await db.dispose()


async def _queue(url: str, ids: list[str]) -> None:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            await session.execute(
                update(Invitation).where(Invitation.id.in_(ids)).values(status="queued", due_at=None)
            )
            await session.commit()
    finally:
        await db.dispose()


def test_a_batch_lost_before_its_commit_is_resent_with_the_same_message_ids(
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
    # Quiet hours hold the invitations back, so no delivery job of their own runs.
    monkeypatch.setattr(clock, "utc_now", lambda: dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
    made = [invite(client, org, people.add(email=f"b{i}@example.com"), survey_id)["id"] for i in range(2)]
    asyncio.run(_queue(database_url, made))

    lost = asyncio.run(_run_batch(database_url, [made[0], made[1], made[0]], commit=False))
    assert lost == ["sent", "sent"]  # the repeated id is sent once
    assert len(box.messages) == 2
    assert rows(database_url, "SELECT count(*) FROM delivery_attempts") == [(0,)]

    assert asyncio.run(_run_batch(database_url, made, commit=True)) == ["sent", "sent"]
    assert len(box.messages) == 4
    ids = [str(message[2]["Message-ID"]) for message in box.messages]
    # At least once, recognisably the same messages; a batch may send them in any order.
    assert sorted(ids[:2]) == sorted(ids[2:]) and ids[0] != ids[1]
    assert sorted(rows(database_url, "SELECT status, attempts FROM invitations")) == [
        ("sent", 1),
        ("sent", 1),
    ]

    assert asyncio.run(_run_batch(database_url, made, commit=True)) == ["sent", "sent"]
    assert len(box.messages) == 4  # a finished batch sends nothing again
