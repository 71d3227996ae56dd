"""The transactional outbox at the request boundary: a job exists and runs
if and only if the request's transaction commits."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cxloop.identity import CurrentPrincipal
from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database
from cxloop.kit.errors import Conflict
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.jobs import OutboxJob, enqueue
from cxloop.ops import Heartbeat
from cxloop.ops.service import request_heartbeat
from cxloop.web import create_app
from tests.factories import Org, make_org
from tests.worker.support import calls, outbox_rows, set_times

HEARTBEATS = "/api/v1/system/heartbeats"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _count(url: str, model: Any) -> int:
    db = Database(url)
    try:
        async with db.session(write=False) as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
    finally:
        await db.dispose()


async def _rows(url: str) -> list[OutboxJob]:
    db = Database(url)
    try:
        return await outbox_rows(db)
    finally:
        await db.dispose()


def test_heartbeat_commits_and_its_job_runs_exactly_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    response = client.post(HEARTBEATS, headers=org.auth("admin"))

    assert response.status_code == 201, response.text
    body = response.json()
    # The response is written before the commit's job runs.
    assert body["completed_at"] is None
    assert body["runs"] == 0
    assert body["completed_by"] is None
    assert body["requested_by"] == org.user_ids["admin"]
    beat = client.get(f"{HEARTBEATS}/{body['id']}", headers=org.auth("admin")).json()
    assert beat["runs"] == 1
    assert beat["completed_by"] == f"{socket.gethostname()}:{os.getpid()}"
    assert beat["completed_at"] >= beat["requested_at"]
    rows = run(_rows(database_url))
    assert [(r.name, r.payload, r.status, r.attempts, r.last_error) for r in rows] == [
        ("ops.heartbeat", {"heartbeat_id": body["id"]}, "done", 1, None)
    ]


def test_heartbeat_with_idempotency_key_is_requested_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    headers = {**org.auth("admin"), "Idempotency-Key": "beat-1"}
    first = client.post(HEARTBEATS, headers=headers)
    again = client.post(HEARTBEATS, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert run(_count(database_url, Heartbeat)) == 1
    assert [r.status for r in run(_rows(database_url))] == ["done"]


@pytest.mark.parametrize("who", ["cx", "east", "store", "agent", "analyst"])
def test_only_admins_send_heartbeats(client: TestClient, org: Org, database_url: str, who: str) -> None:
    response = client.post(HEARTBEATS, headers=org.auth(who))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "permission_denied"
    assert client.get("/api/v1/system/jobs", headers=org.auth(who)).status_code == 403
    assert run(_count(database_url, Heartbeat)) == 0
    assert run(_rows(database_url)) == []


def test_heartbeats_need_a_caller(client: TestClient, org: Org, database_url: str) -> None:
    response = client.post(HEARTBEATS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert run(_rows(database_url)) == []


def test_heartbeat_of_another_tenant_or_missing_is_not_found(
    client: TestClient, org: Org, database_url: str
) -> None:
    other = make_org(database_url, slug="globex", email_domain="globex.test")
    beat_id = client.post(HEARTBEATS, headers=org.auth("admin")).json()["id"]

    foreign = client.get(f"{HEARTBEATS}/{beat_id}", headers=other.auth("admin"))
    missing = client.get(f"{HEARTBEATS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=org.auth("admin"))
    too_long = client.get(f"{HEARTBEATS}/{'x' * 27}", headers=org.auth("admin"))

    assert (foreign.status_code, foreign.json()["code"]) == (404, "heartbeat_not_found")
    assert foreign.json() | {"instance": None} == missing.json() | {"instance": None}
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["path"] == "path.heartbeat_id"
    assert client.get(f"{HEARTBEATS}/{beat_id}", headers=org.auth("cx")).status_code == 403


def test_job_queue_state_counts_and_ages(client: TestClient, org: Org, database_url: str) -> None:
    empty = client.get("/api/v1/system/jobs", headers=org.auth("admin"))
    assert empty.status_code == 200
    assert empty.json() == {
        "counts": {"pending": 0, "dispatched": 0, "done": 0, "dead": 0},
        "oldest_pending_at": None,
        "oldest_pending_age_seconds": None,
        "oldest_overdue_at": None,
        "oldest_overdue_age_seconds": None,
    }
    client.post(HEARTBEATS, headers=org.auth("admin"))

    async def stuck_jobs() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                pending = enqueue(session, "tests.count", {"key": "stuck"})
                overdue = enqueue(session, "tests.count", {"key": "overdue"})
                await session.commit()
            await set_times(db, pending, created_at=utc_now() - timedelta(minutes=3))
            await set_times(db, overdue, status="dispatched", available_at=utc_now() - timedelta(minutes=20))
        finally:
            await db.dispose()

    run(stuck_jobs())
    body = client.get("/api/v1/system/jobs", headers=org.auth("admin")).json()

    assert body["counts"] == {"pending": 1, "dispatched": 1, "done": 1, "dead": 0}
    assert 180 <= body["oldest_pending_age_seconds"] < 240
    assert 1200 <= body["oldest_overdue_age_seconds"] < 1260
    assert body["oldest_pending_at"].endswith("Z") or body["oldest_pending_at"].endswith("+00:00")


# --- requests that fail enqueue nothing ---------------------------------------

failing = APIRouter(prefix="/test-only", route_class=TransactionalRoute)


@failing.post("/raises-409")
async def enqueue_then_raise(session: DbSession, principal: CurrentPrincipal) -> dict[str, str]:
    await request_heartbeat(session, principal)
    enqueue(session, "tests.count", {"key": "raises-409"})
    raise Conflict("Refused after enqueueing.", code="refused")


@failing.post("/returns-422")
async def enqueue_then_answer_error(session: DbSession, principal: CurrentPrincipal) -> JSONResponse:
    await request_heartbeat(session, principal)
    enqueue(session, "tests.count", {"key": "returns-422"})
    return JSONResponse({"detail": "no"}, status_code=422)


@failing.post("/crashes")
async def enqueue_then_crash(session: DbSession, principal: CurrentPrincipal) -> dict[str, str]:
    await request_heartbeat(session, principal)
    enqueue(session, "tests.count", {"key": "crashes"})
    raise RuntimeError("a bug after enqueueing")


@pytest.fixture
def failing_client(settings: Any) -> Any:
    app = create_app(settings)
    app.include_router(failing)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(("path", "status"), [("raises-409", 409), ("returns-422", 422), ("crashes", 500)])
def test_a_failed_request_enqueues_nothing_and_runs_nothing(
    failing_client: TestClient, org: Org, database_url: str, path: str, status: int
) -> None:
    calls.clear()
    response = failing_client.post(f"/test-only/{path}", headers=org.auth("admin"))

    assert response.status_code == status
    assert run(_rows(database_url)) == []
    assert run(_count(database_url, Heartbeat)) == 0
    assert calls == {}
    if status == 500:
        assert response.json()["code"] == "internal_error"


class BrokerDown:
    async def send(self, job_id: str, eta: object) -> None:
        raise ConnectionError("redis is down")


def test_a_broker_outage_does_not_fail_the_request_and_the_relay_catches_up(
    client: TestClient, org: Org, database_url: str
) -> None:
    from cxloop.kit.jobs import relay_once
    from cxloop.worker import InlineTransport

    client.app.state.transport = BrokerDown()  # type: ignore[attr-defined]
    response = client.post(HEARTBEATS, headers=org.auth("admin"))

    assert response.status_code == 201, response.text
    assert [(r.status, r.attempts) for r in run(_rows(database_url))] == [("pending", 0)]

    async def relay() -> int:
        db = Database(database_url)
        try:
            return await relay_once(db, InlineTransport(db), grace=timedelta(0))
        finally:
            await db.dispose()

    assert run(relay()) == 1
    beat = client.get(f"{HEARTBEATS}/{response.json()['id']}", headers=org.auth("admin")).json()
    assert beat["runs"] == 1
    assert [(r.status, r.attempts) for r in run(_rows(database_url))] == [("done", 1)]
