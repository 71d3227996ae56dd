"""Rollups: kept by the pipeline, equal to raw rows, idempotent, edit-aware, rebuildable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cxloop.analytics.rollups import rebuild, refresh_responses
from cxloop.kit.db import Database
from tests.analytics.support import generate, make_survey, query, submit
from tests.factories import Org, run
from tests.identity.support import engine_for

SHAPES: list[dict[str, Any]] = [
    {"group_by": []},
    {"group_by": ["month", "unit"]},
    {"group_by": ["week"]},
    {"group_by": ["day", "channel"]},
    {"group_by": ["quarter", "touchpoint"]},
    {"group_by": ["year", "survey"]},
    {"group_by": ["unit_level:1", "month"]},
    {"group_by": ["unit"], "filters": {"unit_code": "EAST", "channel": ["web"], "date_from": "2026-04-10"}},
    {"group_by": ["month"], "compare": "company", "filters": {"unit_code": "SH001"}},
    {"group_by": ["unit"], "compare": "parent_unit"},
    {"group_by": ["month"], "compare": "last_year"},
    {
        "group_by": ["unit"],
        "compare": "previous_period",
        "filters": {"date_from": "2026-05-01", "date_to": "2026-06-30"},
    },
]


@pytest.fixture
def seeded(client: TestClient, org: Org) -> dict[str, Any]:
    survey_id = make_survey(client, org)
    ids = submit(client, org, survey_id, generate(400, seed=3))
    return {"survey": survey_id, "ids": ids}


def test_rollups_and_raw_rows_give_the_same_numbers(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    for shape in SHAPES:
        body = {"metrics": ["nps", "csat", "ces", "n"], **shape}
        from_rollups = query(client, org, **body, source="rollup").json()
        from_raw = query(client, org, **body, source="raw").json()
        assert from_rollups["source"] == "rollup" and from_raw["source"] == "raw"
        assert from_rollups["rows"], (shape, from_rollups)
        assert from_rollups["rows"] == from_raw["rows"], shape
        assert from_rollups["total_rows"] == from_raw["total_rows"]
        if shape.get("compare") not in (None, "last_year"):  # the data start in 2026
            assert any(r["delta"] is not None for r in from_rollups["rows"]), shape


def rollup_totals(database_url: str) -> tuple[int, int, int]:
    with engine_for(database_url) as engine, engine.connect() as conn:
        row = conn.execute(
            text("SELECT sum(responses), sum(nps_pro), sum(nps_det) FROM analytics_rollups WHERE grain = 'd'")
        ).one()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


def test_a_new_response_counts_at_once(client: TestClient, org: Org, seeded: dict[str, Any]) -> None:
    before = query(client, org, metrics=["n"], filters={"unit_code": "SH001"}).json()["rows"][0]["n"]
    submit(client, org, seeded["survey"], generate(1, seed=99, units=("SH001",)))
    after = query(client, org, metrics=["n"], filters={"unit_code": "SH001"}).json()["rows"][0]["n"]
    assert after == before + 1


def test_refreshing_again_changes_nothing(
    client: TestClient, org: Org, seeded: dict[str, Any], database_url: str
) -> None:
    totals = rollup_totals(database_url)
    assert totals[0] == 400

    async def again() -> int:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                changed = await refresh_responses(session, seeded["ids"][:50])
                await session.commit()
                return changed
        finally:
            await db.dispose()

    assert run(again()) == 0
    assert rollup_totals(database_url) == totals


def test_an_edit_moves_its_own_share(client: TestClient, org: Org, seeded: dict[str, Any]) -> None:
    response_id = seeded["ids"][0]
    one = client.get(f"/api/v1/responses/{response_id}", headers=org.auth("cx")).json()
    unit = one["unit_code"]
    before = query(client, org, metrics=["nps"], filters={"unit_code": unit}, source="rollup").json()["rows"][
        0
    ]
    edited = client.patch(
        f"/api/v1/responses/{response_id}",
        json={"answers": {"rec": 0 if one["answers"]["rec"] >= 7 else 10}, "reason": "customer corrected"},
        headers=org.auth("cx"),
    )
    assert edited.status_code == 200, edited.text
    after = query(client, org, metrics=["nps"], filters={"unit_code": unit}, source="rollup").json()["rows"][
        0
    ]
    raw = query(client, org, metrics=["nps"], filters={"unit_code": unit}, source="raw").json()["rows"][0]
    assert after == raw
    assert after["nps"] != before["nps"] and after["n"] == before["n"]


def test_rebuild_resumes_and_matches(
    client: TestClient, org: Org, seeded: dict[str, Any], database_url: str
) -> None:
    totals = rollup_totals(database_url)
    expected = query(client, org, metrics=["nps", "csat", "ces"], group_by=["month", "unit"]).json()["rows"]
    seen: list[tuple[int, int]] = []

    class Stop(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise Stop

    async def go(fresh: bool, progress: Any) -> int:
        db = Database(database_url)
        try:
            return await rebuild(db, org.tenant_id, fresh=fresh, batch=100, progress=progress)
        finally:
            await db.dispose()

    with pytest.raises(Stop):
        run(go(True, interrupt))
    assert seen == [(100, 400), (200, 400)]
    # Resumed: only the responses after the last committed batch are read.
    assert run(go(False, None)) == 200
    assert rollup_totals(database_url) == totals
    assert (
        query(client, org, metrics=["nps", "csat", "ces"], group_by=["month", "unit"]).json()["rows"]
        == expected
    )


def test_rebuild_command(
    client: TestClient, org: Org, seeded: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cxloop.cli import app
    from cxloop.kit.settings import get_settings

    totals = rollup_totals(database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["analytics", "rebuild", "--tenant", "acme", "--fresh", "--batch", "150"],
            env={"CXLOOP_DATABASE_URL": database_url, "CXLOOP_DATA_DIR": str(tmp_path)},
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "400/400 responses" in result.output and "400 responses processed" in result.output
    assert rollup_totals(database_url) == totals


def test_one_batch_moves_removes_and_skips_exactly(
    client: TestClient, org: Org, seeded: dict[str, Any], database_url: str
) -> None:
    """A batch of many responses (the set-based path) where one was moved to another
    unit, one rescored, one no longer complete and the rest unchanged."""
    from sqlalchemy import select

    from cxloop.collection import Response

    moved, rescored, dropped = seeded["ids"][:3]
    totals = rollup_totals(database_url)

    async def change_then_refresh() -> int:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                rows = {
                    r.id: r
                    for r in (
                        await session.execute(
                            select(Response).where(Response.id.in_([moved, rescored, dropped]))
                        )
                    ).scalars()
                }
                others = {r.unit_id for r in (await session.execute(select(Response))).scalars()}
                rows[moved].unit_id = next(u for u in others if u != rows[moved].unit_id)
                rows[rescored].answers = {
                    **rows[rescored].answers,
                    "rec": 10 if rows[rescored].answers["rec"] < 9 else 0,
                }
                rows[dropped].status = "partial"
                await session.flush()
                changed = await refresh_responses(session, seeded["ids"])
                await session.commit()
                return changed
        finally:
            await db.dispose()

    assert run(change_then_refresh()) == 3
    assert rollup_totals(database_url)[0] == totals[0] - 1
    for shape in SHAPES[:3]:
        body = {"metrics": ["nps", "csat", "ces", "n"], **shape}
        assert (
            query(client, org, **body, source="rollup").json()["rows"]
            == (query(client, org, **body, source="raw").json()["rows"])
        ), shape


def test_a_session_that_adds_a_unit_plans_with_it(org: Org, database_url: str) -> None:
    """Units are read once per transaction (a dashboard's widgets share them), but a
    write through the same session makes the next plan read them again."""
    from cxloop.analytics.plan import _units
    from cxloop.identity import Tenant
    from cxloop.identity.audit import Actor
    from cxloop.identity.units import create_unit

    async def go() -> tuple[int, int, int]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                before = await _units(session, org.tenant_id)
                again = await _units(session, org.tenant_id)
                assert again is before
                tenant = await session.get(Tenant, org.tenant_id)
                assert tenant is not None
                await create_unit(
                    session,
                    tenant,
                    code="NEW01",
                    names={"en": "New store"},
                    parent_code="HQ",
                    actor=Actor(tenant_id=org.tenant_id, label="tests"),
                )
                after = await _units(session, org.tenant_id)
                await session.rollback()
                return len(before), len(after), len(await _units(session, org.tenant_id))
        finally:
            await db.dispose()

    before, after, rolled_back = run(go())
    assert after == before + 1 and rolled_back == before
