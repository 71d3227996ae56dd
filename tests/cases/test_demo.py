"""The demo's cases step: opening hours, root causes and cases in every state."""

from __future__ import annotations

import asyncio
import time

import cxloop.demo.cases  # noqa: F401 - registers the step until STEP_MODULES lists it
from cxloop.demo.registry import seed_demo
from cxloop.kit.db import Database
from tests.collection.support import rows


def test_demo_cases_step(database_url: str) -> None:
    async def seed() -> list[str]:
        db = Database(database_url)
        try:
            result = await seed_demo(db, only=["identity", "surveys", "cases"], response_count=600)
            return result.ran
        finally:
            await db.dispose()

    started = time.monotonic()
    assert asyncio.run(seed()) == ["identity", "surveys", "cases"]
    assert time.monotonic() - started < 120
    (total,) = rows(database_url, "SELECT count(*) FROM cases")[0]
    assert 0 < total <= 150
    statuses = {status for (status,) in rows(database_url, "SELECT DISTINCT status FROM cases")}
    assert {"new", "resolved"} <= statuses
    assert rows(database_url, "SELECT count(*) FROM case_root_causes") == [(10,)]
    # Every case's number is unique and dense from 1.
    numbers = [n for (n,) in rows(database_url, "SELECT number FROM cases ORDER BY number")]
    assert numbers == list(range(1, total + 1))
