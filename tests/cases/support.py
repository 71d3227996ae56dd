"""Helpers of the cases tests: open cases as alerts do, move the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.cases import open_case, subscribe_case_events, unsubscribe_case_events
from cxloop.kit import clock
from cxloop.kit.db import Database
from tests.collection.support import FULL_ANSWERS, make_survey
from tests.factories import Org

# A Tuesday, 10:00 in Shanghai (UTC+8): inside business hours.
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class Clock:
    """The injectable clock: every case function reads ``cxloop.kit.clock``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = T0) -> None:
        self.now = start
        monkeypatch.setattr(clock, "utc_now", lambda: self.now)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def open_one(database_url: str, org: Org, **overrides: Any) -> tuple[str, bool]:
    async def work() -> tuple[str, bool]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                kwargs: dict[str, Any] = {
                    "response_id": None,
                    "contact_id": None,
                    "unit_id": org.unit_ids["SH001"],
                    "priority": "high",
                    "title": "NPS 2 at SH001",
                    "source": "alert",
                }
                kwargs.update(overrides)
                result = await open_case(session, org.tenant_id, **kwargs)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(work())


def submit(client: TestClient, org: Org, survey_id: str, nps: int, **extra: Any) -> str:
    answers = {**FULL_ANSWERS, "nps": nps}
    if nps <= 6:
        answers["why"] = extra.pop("why", "太慢")
    body = {"answers": answers, "unit_code": extra.pop("unit_code", "SH001"), "channel": "sms", **extra}
    response = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth("store"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def survey(client: TestClient, org: Org) -> str:
    return make_survey(client, org)


@contextmanager
def recording(name: str = "test-recorder") -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    @subscribe_case_events(name)
    async def record(session: Any, event: str, payload: dict[str, Any]) -> None:
        seen.append((event, payload))

    try:
        yield seen
    finally:
        unsubscribe_case_events(name)


def run_jobs(database_url: str) -> None:
    """Run every pending outbox job (service-level tests have no boundary)."""
    from sqlalchemy import select

    from cxloop.kit.jobs import PENDING, OutboxJob, RetryLater, run_job

    async def work() -> None:
        db = Database(database_url)
        try:
            for _ in range(10):
                async with db.session(write=False) as session:
                    ids = list(
                        (await session.execute(select(OutboxJob.id).where(OutboxJob.status == PENDING)))
                        .scalars()
                        .all()
                    )
                if not ids:
                    return
                for job_id in ids:
                    # A failing job is left for a later retry, as a worker would.
                    with suppress(RetryLater):
                        await run_job(db, job_id)
        finally:
            await db.dispose()

    asyncio.run(work())


def principal_of(database_url: str, org: Org, who: str, work: Any) -> Any:
    """``await work(session, principal)`` as ``who`` (their API token's principal)."""
    from cxloop.identity.principals import principal_from_token

    async def run() -> Any:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                principal = await principal_from_token(session, org.tokens[who])
                assert principal is not None
                return await work(session, principal)
        finally:
            await db.dispose()

    return asyncio.run(run())
