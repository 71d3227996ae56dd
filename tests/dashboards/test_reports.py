"""Scheduled email reports: who may schedule for whom, the cadence, and the
send through a real SMTP server (aiosmtpd) with the recipient's own scope."""

from __future__ import annotations

import asyncio
import email
import io
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

import cxloop.dashboards.reports as reports
import cxloop.dashboards.tasks as tasks
from cxloop.dashboards.reports import DUE_JOB, SEND_JOB, next_run
from cxloop.kit.db import Database
from cxloop.kit.jobs import DONE, OutboxJob, RetryLater, enqueue, run_job
from cxloop.kit.settings import get_settings
from tests.collection.support import rows
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CXLOOP_REPORT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CXLOOP_REPORT_SMTP_PORT", str(port))
    monkeypatch.setenv("CXLOOP_REPORT_MAIL_FROM", "reports@acme.test")
    get_settings.cache_clear()
    yield box
    controller.stop()
    get_settings.cache_clear()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_next_run_slots() -> None:
    assert next_run("daily", 6, at("2026-12-01T05:00:00")) == at("2026-12-01T06:00:00")
    assert next_run("daily", 6, at("2026-12-01T06:00:00")) == at("2026-12-02T06:00:00")
    # 2026-12-01 is a Tuesday: weekly reports go out on Mondays.
    assert next_run("weekly", 0, at("2026-12-01T10:00:00")) == at("2026-12-07T00:00:00")
    assert next_run("weekly", 9, at("2026-12-07T08:00:00")) == at("2026-12-07T09:00:00")
    assert next_run("monthly", 1, at("2026-12-01T00:30:00")) == at("2026-12-01T01:00:00")
    assert next_run("monthly", 1, at("2026-12-15T00:00:00")) == at("2027-01-01T01:00:00")


def schedule(client: TestClient, org: Org, who: str, **body: Any) -> Any:
    return client.post("/api/v1/report-schedules", json=body, headers=org.auth(who))


def test_who_may_schedule_for_whom(client: TestClient, org: Org, database_url: str) -> None:
    mine = schedule(client, org, "store", recipient_email="store@acme.test", frequency="weekly")
    assert mine.status_code == 201, mine.text
    assert mine.json()["frequency"] == "weekly"
    assert mine.json()["format"] == "pdf"
    other = schedule(client, org, "store", recipient_email="east@acme.test", frequency="daily")
    nobody = schedule(client, org, "store", recipient_email="nobody@acme.test", frequency="daily")
    assert other.status_code == nobody.status_code == 404
    assert other.json() == nobody.json()
    by_cx = schedule(client, org, "cx", recipient_email="EAST@acme.test", frequency="monthly", format="xlsx")
    assert by_cx.status_code == 201
    assert by_cx.json()["recipient_id"] == org.user_ids["east"]
    for bad in (
        {"recipient_email": "store@acme.test", "frequency": "hourly"},
        {"recipient_email": "store@acme.test", "frequency": "daily", "hour_utc": 24},
        {"recipient_email": "store@acme.test", "frequency": "daily", "format": "doc"},
        {
            "recipient_email": "store@acme.test",
            "frequency": "daily",
            "dashboard_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        },
    ):
        refused = schedule(client, org, "store", **bad)
        assert refused.status_code in (404, 422), refused.text
    assert rows(database_url, "SELECT count(*) FROM report_schedules")[0][0] == 2
    listed = client.get("/api/v1/report-schedules", headers=org.auth("store")).json()["items"]
    assert [s["id"] for s in listed] == [mine.json()["id"]]
    assert (
        client.delete(f"/api/v1/report-schedules/{by_cx.json()['id']}", headers=org.auth("store")).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/report-schedules/{mine.json()['id']}", headers=org.auth("store")).status_code
        == 204
    )
    assert rows(database_url, "SELECT count(*) FROM report_schedules")[0][0] == 1


async def _tick(url: str) -> list[str]:
    """Run the periodic job, then every send job it queued; returns the send jobs' ids."""
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            due = enqueue(session, DUE_JOB, {})
            await session.commit()
        await run_job(db, due)
        async with db.session(write=False) as session:
            sends = list(
                (
                    await session.execute(
                        select(OutboxJob.id).where(OutboxJob.name == SEND_JOB, OutboxJob.status != DONE)
                    )
                ).scalars()
            )
        for job_id in sends:
            await run_job(db, job_id)
        return sends
    finally:
        await db.dispose()


def test_due_reports_are_mailed_once_with_each_recipients_scope(
    client: TestClient,
    org: Org,
    database_url: str,
    metrics: FakeMetrics,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        schedule(
            client, org, "cx", recipient_email="east@acme.test", frequency="daily", format="xlsx"
        ).status_code
        == 201
    )
    assert (
        schedule(client, org, "cx", recipient_email="store@acme.test", frequency="weekly").status_code == 201
    )
    # Not due yet: nothing is sent.
    assert asyncio.run(_tick(database_url)) == []
    assert inbox.messages == []

    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=8)
    monkeypatch.setattr(reports, "utc_now", lambda: later)
    monkeypatch.setattr(tasks, "utc_now", lambda: later)
    metrics.calls.clear()
    sent = asyncio.run(_tick(database_url))
    assert len(sent) == 2
    by_to = {m["To"]: m for m in inbox.messages}
    assert set(by_to) == {"east@acme.test", "store@acme.test"}
    assert all(m["From"] == "reports@acme.test" for m in inbox.messages)
    east = by_to["east@acme.test"]
    attachment = next(p for p in east.walk() if p.get_filename())
    assert (
        attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_payload(decode=True)))
    assert len(book.worksheets) == 7
    store_pdf = next(p for p in by_to["store@acme.test"].walk() if p.get_filename())
    assert store_pdf.get_content_type() == "application/pdf"
    assert store_pdf.get_payload(decode=True).startswith(b"%PDF-")
    # Each report ran as its recipient: their scope, not the scheduler's.
    assert {label for label, _ in metrics.calls} == {"east@acme.test", "store@acme.test"}
    # The daily report's 30 days and the weekly one's 90.
    periods = {label: b["filters"]["date_from"] for label, b in metrics.calls if "filters" in b}
    assert set(periods) == {"east@acme.test", "store@acme.test"}
    # Run again at the same time: both schedules moved on, nothing goes twice.
    assert asyncio.run(_tick(database_url)) == []
    assert len(inbox.messages) == 2
    stamps = rows(
        database_url, "SELECT frequency, last_sent_at IS NOT NULL FROM report_schedules ORDER BY frequency"
    )
    assert [(f, bool(s)) for f, s in stamps] == [("daily", True), ("weekly", True)]


def test_an_smtp_failure_is_retried_not_lost(
    client: TestClient, org: Org, database_url: str, metrics: FakeMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_REPORT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CXLOOP_REPORT_SMTP_PORT", str(free_port()))
    get_settings.cache_clear()
    try:
        assert (
            schedule(
                client, org, "east", recipient_email="east@acme.test", frequency="daily", format="xlsx"
            ).status_code
            == 201
        )
        later = datetime.now(UTC) + timedelta(days=2)
        monkeypatch.setattr(reports, "utc_now", lambda: later)
        monkeypatch.setattr(tasks, "utc_now", lambda: later)
        with pytest.raises(RetryLater):
            asyncio.run(_tick(database_url))
        found = rows(database_url, f"SELECT status, attempts FROM outbox_jobs WHERE name = '{SEND_JOB}'")
        assert found == [("dispatched", 1)]
        assert rows(database_url, "SELECT last_sent_at FROM report_schedules") == [(None,)]
    finally:
        get_settings.cache_clear()
