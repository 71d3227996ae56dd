"""Helpers shared by the identity and API-convention tests.

They read the database directly (not through the API) so that a test can
prove a refused request left nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, text

from cxloop.identity.audit import Actor
from cxloop.identity.logins import LoginPolicy, StartedSession, log_in
from cxloop.identity.tenants import get_tenant
from cxloop.identity.users import create_user
from cxloop.kit.db import Database, sync_url
from cxloop.kit.errors import AppError
from tests.factories import Org, run

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance"}


@contextmanager
def engine_for(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    try:
        yield engine
    finally:
        engine.dispose()


def count(database_url: str, table: str) -> int:
    with engine_for(database_url) as engine, engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def counts(database_url: str) -> dict[str, int]:
    """Rows per table that an API write could add to."""
    tables = (
        "units",
        "users",
        "memberships",
        "api_tokens",
        "audit_events",
        "idempotency_keys",
        "outbox_jobs",
    )
    with engine_for(database_url) as engine, engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables}


def audit_rows(database_url: str, action: str | None = None) -> list[dict[str, Any]]:
    """Audit events in the order written (ids sort by time)."""
    query = (
        "SELECT action, actor_user_id, actor_token_id, actor_label, target_type, target_id FROM audit_events"
    )
    params: dict[str, Any] = {}
    if action is not None:
        query += " WHERE action = :action"
        params["action"] = action
    with engine_for(database_url) as engine, engine.connect() as conn:
        rows = conn.execute(text(query + " ORDER BY id"), params).mappings().all()
    return [dict(r) for r in rows]


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 body with our stable code; returns it for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "https://cxloop.dev/problems/" + code.replace("_", "-")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    expected_keys = PROBLEM_KEYS | ({"errors"} if status == 422 or "errors" in body else set())
    assert set(body) == expected_keys, body
    if status == 422:
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"path", "message"}
            assert isinstance(error["path"], str) and isinstance(error["message"], str) and error["message"]
    return body


def add_user(
    database_url: str, org: Org, email: str, role: str, unit_code: str | None, password: str | None = None
) -> str:
    """A user made through the service (as the CLI would); returns the id."""

    async def work() -> str:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                tenant = await get_tenant(session, org.tenant_id)
                view = await create_user(
                    session,
                    tenant,
                    email=email,
                    name=None,
                    password=password,
                    role=role,
                    unit_code=unit_code,
                    actor=Actor(org.tenant_id, label="tests"),
                )
                await session.commit()
                return view.user.id
        finally:
            await db.dispose()

    result: str = run(work())
    return result


def try_login(
    database_url: str, email: str, password: str, ip: str = "10.0.0.1"
) -> StartedSession | AppError:
    """log_in as the login page does: commit whatever it recorded, even on failure."""

    async def work() -> StartedSession | AppError:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                try:
                    started: StartedSession | AppError = await log_in(
                        session,
                        email=email,
                        password=password,
                        ip=ip,
                        user_agent="pytest",
                        policy=LoginPolicy(),
                    )
                except AppError as exc:
                    started = exc
                await session.commit()
                return started
        finally:
            await db.dispose()

    result: StartedSession | AppError = run(work())
    return result


def execute(database_url: str, sql: str, **params: Any) -> None:
    with engine_for(database_url) as engine, engine.begin() as conn:
        conn.execute(text(sql), params)
