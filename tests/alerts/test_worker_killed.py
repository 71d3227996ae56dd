"""A real ``cxloop worker`` killed with SIGKILL in the middle of a webhook delivery, then
restarted: every alert still has exactly one case, and every webhook delivery arrives at
least once, always with its own delivery id (the one cut short arrives twice)."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import cxloop.cases as cases_api
from cxloop.kit.db import sync_url
from cxloop.kit.jobs import OutboxJob
from cxloop.kit.settings import Settings
from cxloop.web import create_app
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.factories import Org
from tests.worker.procs import CXLOOP, SECRET_KEY, cxloop_env, start, stop, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(getattr(cases_api, "open_case", None) is None, reason="needs cases.open_case"),
]

RESPONSES = 4


def _age_unfinished_jobs(database_url: str) -> None:
    """What ten minutes of waiting would do: the relay takes dispatched-but-unfinished jobs
    (the killed worker's) as lost and sends them again."""
    engine = create_engine(sync_url(database_url))
    try:
        with Session(engine) as session, session.begin():
            for job in session.scalars(select(OutboxJob).where(OutboxJob.status == "dispatched")):
                job.available_at -= timedelta(minutes=11)
                job.dispatched_at = (job.dispatched_at or job.available_at) - timedelta(minutes=11)
    finally:
        engine.dispose()


def test_killed_mid_delivery_then_restarted(org: Org, database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=SECRET_KEY,
        jobs_immediate=False,
        embedded_worker=False,
    )
    env = cxloop_env(database_url, data_dir)
    hold = threading.Event()
    first_arrived = threading.Event()

    with receiver() as server:
        original = server.next_status

        def held_status() -> int:
            if not first_arrived.is_set():
                first_arrived.set()
                hold.wait(30)  # the worker is killed while waiting for this answer
            return original()

        server.next_status = held_status  # type: ignore[method-assign]
        with TestClient(create_app(settings, start_worker=False), raise_server_exceptions=False) as client:
            client.post(
                "/api/v1/webhooks",
                json={"url": server.url, "events": ["alert.created", "case.created"], "secret": "k" * 20},
                headers=org.auth("cx"),
            ).raise_for_status()
            survey = make_survey(client, org)
            rule(client, org, {**DETRACTOR, "actions": {"open_case": {}}})
            for score in range(RESPONSES):
                submit(client, org, survey, {"nps": score})

        worker = start([CXLOOP, "worker", "--threads", "1"], env, tmp_path / "worker-1.log")
        try:
            assert first_arrived.wait(90), (tmp_path / "worker-1.log").read_text()[-3000:]
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            hold.set()
            stop(worker)

        _age_unfinished_jobs(database_url)
        worker = start([CXLOOP, "worker", "--threads", "1"], env, tmp_path / "worker-2.log")
        try:

            def all_delivered() -> bool:
                expected = 2 * RESPONSES  # alert.created and case.created for each
                state = rows(database_url, "SELECT status FROM webhook_deliveries")
                if len(state) == expected and all(s == "delivered" for (s,) in state):
                    return True
                _age_unfinished_jobs(database_url)
                return False

            wait_for(all_delivered, timeout=120, what="every webhook delivered after the restart", every=1.0)
        finally:
            stop(worker)

    assert rows(database_url, "SELECT count(*) FROM alerts") == [(RESPONSES,)]
    assert rows(database_url, "SELECT count(*) FROM cases") == [(RESPONSES,)]
    assert rows(database_url, "SELECT count(DISTINCT case_id) FROM alerts WHERE case_id IS NOT NULL") == [
        (RESPONSES,)
    ]
    sent_ids = [{k.lower(): v for k, v in r.headers.items()}["x-cxloop-delivery"] for r in server.received]
    stored = {d for (d,) in rows(database_url, "SELECT id FROM webhook_deliveries")}
    assert set(sent_ids) == stored
    assert len(sent_ids) > len(stored)  # the cut-short delivery came again, under the same id
