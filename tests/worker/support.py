"""Shared pieces of the outbox tests: test jobs, a recording transport, queries."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.kit.db import Database
from cxloop.kit.jobs import OutboxJob, RetryLater, job

# How many times each test job ran, by the "key" in its payload.
calls: Counter[str] = Counter()
# How many failures a "tests.flaky" job still has to produce, by key.
failures_left: dict[str, int] = {}


@job("tests.count")
async def count_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    await asyncio.sleep(float(payload.get("sleep", 0)))
    calls[payload["key"]] += 1


@job("tests.flaky")
async def flaky_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    calls[payload["key"]] += 1
    if failures_left.get(payload["key"], 0) > 0:
        failures_left[payload["key"]] -= 1
        raise RuntimeError(f"boom, {failures_left[payload['key']]} failures to go")


@job("tests.always_fails", max_attempts=3)
async def failing_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    calls[payload["key"]] += 1
    raise ValueError("the remote end said no")


@job("tests.not_yet")
async def not_yet_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    calls[payload["key"]] += 1
    if calls[payload["key"]] == 1:
        raise RetryLater(timedelta(seconds=1))


@job("tests.writes_then_fails", max_attempts=1)
async def writes_then_fails(session: AsyncSession, payload: dict[str, Any]) -> None:
    from cxloop.kit.clock import utc_now
    from cxloop.ops import Heartbeat

    session.add(
        Heartbeat(
            id=payload["key"],
            tenant_id=payload["tenant_id"],
            requested_by="x",
            requested_at=utc_now(),
            runs=0,
        )
    )
    await session.flush()
    raise RuntimeError("after writing")


# What each "tests.prepared" handler got from its preparer, by key; the preparer saw a read-only session.
prepared_seen: dict[str, Any] = {}


async def _prepare(session: AsyncSession, payload: dict[str, Any]) -> Any:
    if payload.get("fail"):
        raise LookupError("could not read what the job needs")
    if payload.get("database_url"):
        # Another writer commits while the preparer runs: no write lock is held yet.
        other = Database(payload["database_url"])
        try:
            async with other.session(write=True) as writer:
                await writer.execute(update(OutboxJob).where(OutboxJob.id == "none").values(attempts=0))
                await asyncio.wait_for(writer.commit(), timeout=5)
        finally:
            await other.dispose()
    return {"doubled": payload["n"] * 2}


@job("tests.prepared", max_attempts=2, prepare=_prepare)
async def prepared_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    from cxloop.kit.jobs import PREPARED

    calls[payload["key"]] += 1
    prepared_seen[payload["key"]] = payload[PREPARED]


class RecordingTransport:
    def __init__(self, *, fail_on: set[str] | None = None) -> None:
        self.sent: list[tuple[str, datetime | None]] = []
        self.fail_on = fail_on or set()

    async def send(self, job_id: str, eta: datetime | None) -> None:
        if job_id in self.fail_on:
            raise ConnectionError("broker unreachable")
        self.sent.append((job_id, eta))


async def outbox_rows(db: Database) -> list[OutboxJob]:
    async with db.session(write=False) as session:
        return list((await session.execute(select(OutboxJob).order_by(OutboxJob.id))).scalars())


async def outbox_row(db: Database, job_id: str) -> OutboxJob:
    async with db.session(write=False) as session:
        row = await session.get(OutboxJob, job_id)
        assert row is not None
        return row


async def set_times(db: Database, job_id: str, **values: Any) -> None:
    async with db.session(write=True) as session:
        await session.execute(update(OutboxJob).where(OutboxJob.id == job_id).values(**values))
        await session.commit()
