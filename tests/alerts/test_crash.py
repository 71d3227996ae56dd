"""Failures in the middle of processing: the pipeline job failing after the alert (and
case) insert but before its commit, and the delivery job failing after the receiver got
the request. After the retry every alert exists once (with one case when the cases
domain is there) and every webhook arrived at least once, always with the same id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.alerts.tasks as alert_tasks
from cxloop.alerts import webhooks
from cxloop.collection import subscribe, unsubscribe
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.alerts.test_webhooks import _hook, _run_due
from tests.factories import Org

CRASHES: list[str] = []


@pytest.fixture
def crash_after_alerts() -> Iterator[None]:
    """A subscriber after alerts.evaluate that fails the pipeline job once per response."""

    @subscribe("tests.crash_after_alerts")
    async def crash(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        if response_id not in CRASHES:
            CRASHES.append(response_id)
            raise RuntimeError("the worker died after the alert insert, before the commit")

    try:
        yield
    finally:
        unsubscribe("tests.crash_after_alerts")
        CRASHES.clear()


def test_a_pipeline_failure_before_commit_leaves_nothing_and_the_retry_fires_once(
    client: TestClient, org: Org, database_url: str, crash_after_alerts: None
) -> None:
    with receiver() as server:
        _hook(client, org, server.url, ["alert.created", "case.created"])
        survey = make_survey(client, org)
        rule(client, org, {**DETRACTOR, "actions": {"open_case": {}}})
        rid = submit(client, org, survey, {"nps": 1})
        # The first run rolled back: no alert, no delivery, nothing sent.
        assert rows(database_url, "SELECT count(*) FROM alerts") == [(0,)]
        assert rows(database_url, "SELECT count(*) FROM webhook_deliveries") == [(0,)]
        assert server.received == []
        _run_due(database_url, "collection.response_stored")
        _run_due(database_url, "collection.response_stored")  # a duplicate delivery changes nothing
        assert rows(database_url, "SELECT response_id FROM alerts") == [(rid,)]
        _run_due(database_url, "alerts.deliver_webhook")  # the follow-ups the retry queued
        got = server.wait(1)
        events = sorted(r.json()["event"] for r in got)
        assert events[0] == "alert.created"
        assert events.count("alert.created") == 1
        if alert_tasks.cases_api.__dict__.get("open_case") is not None:
            (case_id,) = rows(database_url, "SELECT case_id FROM alerts")[0]
            assert case_id is not None
            assert rows(database_url, "SELECT count(*) FROM cases") == [(1,)]


def test_a_delivery_that_dies_after_sending_is_sent_again_with_the_same_id(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = webhooks.attempt
    died: list[str] = []

    async def send_then_die(session: AsyncSession, delivery_id: str) -> None:
        await original(session, delivery_id)
        if not died:
            died.append(delivery_id)
            raise RuntimeError("killed after the receiver got it, before the commit")

    monkeypatch.setattr(alert_tasks, "attempt", send_then_die)
    with receiver() as server:
        _hook(client, org, server.url, ["response.created"])
        survey = make_survey(client, org)
        submit(client, org, survey, {"nps": 9})
        assert len(server.wait(1)) == 1
        assert rows(database_url, "SELECT status, attempts FROM webhook_deliveries") == [("pending", 0)]
        _run_due(database_url, "alerts.deliver_webhook")
        got = server.wait(2)
        assert len(got) == 2
        ids = [{k.lower(): v for k, v in r.headers.items()}["x-cxloop-delivery"] for r in got]
        assert ids[0] == ids[1]
        assert rows(database_url, "SELECT id, status, attempts FROM webhook_deliveries") == [
            (ids[0], "delivered", 1)
        ]
