"""The public surface other domains use: the case-event outbox (a failing
subscriber is retried alone), count_open_cases, the customer timeline source."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cxloop.cases import (
    case_event_subscribers,
    count_open_cases,
    subscribe_case_events,
    unsubscribe_case_events,
)
from cxloop.kit.db import Database
from cxloop.kit.jobs import OutboxJob
from tests.cases.support import open_one, principal_of, run_jobs
from tests.collection.support import rows
from tests.factories import Org


def test_a_failing_subscriber_is_retried_without_repeating_the_others(org: Org, database_url: str) -> None:
    calls: list[str] = []
    failures = [1]

    @subscribe_case_events("test-steady")
    async def steady(session: Any, event: str, payload: dict[str, Any]) -> None:
        calls.append("steady")

    @subscribe_case_events("test-flaky")
    async def flaky(session: Any, event: str, payload: dict[str, Any]) -> None:
        calls.append("flaky")
        if failures:
            failures.pop()
            raise RuntimeError("webhook server down")

    try:
        open_one(database_url, org)
        run_jobs(database_url)
        assert sorted(calls) == ["flaky", "steady"]
        statuses = rows(
            database_url,
            "SELECT name, status, attempts FROM outbox_jobs WHERE name LIKE 'cases.%' ORDER BY name, status",
        )
        # One delivery per subscriber (other domains' too, when loaded); only the flaky one waits.
        others = len(case_event_subscribers()) - 1
        assert (
            statuses
            == [
                ("cases.event_delivery", "dispatched", 1),  # the flaky one, waiting for its retry
            ]
            + [("cases.event_delivery", "done", 1)] * others
        )

        async def retry() -> None:
            from cxloop.kit.jobs import run_job

            db = Database(database_url)
            try:
                async with db.session(write=False) as session:
                    (job_id,) = (
                        await session.execute(select(OutboxJob.id).where(OutboxJob.status == "dispatched"))
                    ).scalars()
                await run_job(db, job_id)
            finally:
                await db.dispose()

        asyncio.run(retry())
        assert sorted(calls) == ["flaky", "flaky", "steady"]
    finally:
        unsubscribe_case_events("test-steady")
        unsubscribe_case_events("test-flaky")


def test_without_subscribers_loaded_the_worker_fans_out(org: Org, database_url: str) -> None:
    from cxloop.cases import events

    saved = events.case_event_subscribers()
    for name in saved:
        unsubscribe_case_events(name)
    try:
        open_one(database_url, org)
        assert rows(database_url, "SELECT name, status FROM outbox_jobs WHERE name LIKE 'cases.%'") == [
            ("cases.event", "pending")
        ]
        seen: list[str] = []

        @subscribe_case_events("test-late")
        async def late(session: Any, event: str, payload: dict[str, Any]) -> None:
            seen.append(event)

        run_jobs(database_url)
        assert seen == ["case.created"]
    finally:
        unsubscribe_case_events("test-late")
        for name, handler in saved.items():
            subscribe_case_events(name)(handler)


def test_count_open_cases_within_reach(org: Org, database_url: str, client: Any) -> None:
    open_one(database_url, org)
    open_one(database_url, org, unit_id=org.unit_ids["SH002"])
    closed, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])

    found = {
        (who, unit): principal_of(database_url, org, who, lambda s, p, u=unit: count_open_cases(s, p, u))
        for who, unit in (("cx", None), ("east", None), ("east", "SH"), ("east", "GZ001"), ("agent", None))
    }
    assert found == {
        ("cx", None): 3,
        ("east", None): 2,
        ("east", "SH"): 2,
        ("east", "GZ001"): 0,
        ("agent", None): 1,
    }
    assert closed


def test_the_customer_timeline_shows_the_contacts_cases(org: Org, database_url: str) -> None:
    from cxloop.cases.contact_timeline import case_entries

    case_id, _ = open_one(database_url, org, contact_id="C7", title="排队太久")
    open_one(database_url, org, contact_id="C8")

    async def fetch() -> list[Any]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await case_entries(session, org.tenant_id, "C7", 10)
        finally:
            await db.dispose()

    (entry,) = asyncio.run(fetch())
    assert (entry.kind, entry.title, entry.ref, entry.detail["status"]) == (
        "case",
        "#1 排队太久",
        case_id,
        "new",
    )
