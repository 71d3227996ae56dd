"""``cxloop demo`` and the seed generator behind it."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cxloop.demo import SeedContext, seed_demo, seed_step
from cxloop.demo import registry as demo_registry
from cxloop.demo.identity import DEMO_PASSWORD, demo_logins
from cxloop.identity.logins import LoginPolicy, log_in
from cxloop.identity.models import AuditEvent, Membership, Unit, User
from cxloop.identity.units import create_unit
from cxloop.kit.db import Database
from tests.cli.conftest import Cli
from tests.cli.test_users import _query, _rows

ALL_STEPS = "identity, surveys, rollups, targets, text, customers, cases, alerts, dashboards"


def _counts(url: str) -> dict[str, object]:
    return {
        "kinds": Counter(kind for (kind,) in _query(url, select(Unit.kind))),
        "roles": Counter(role for (role,) in _query(url, select(Membership.role))),
        "users": _query(url, select(func.count()).select_from(User))[0][0],
        "audit": _query(url, select(func.count()).select_from(AuditEvent))[0][0],
    }


def test_demo_seeds_the_chain_once(cli: Cli, tmp_path: Path) -> None:
    url = str(cli.env["CXLOOP_DATABASE_URL"])
    first = cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(tmp_path / "demo-data"))
    assert f"seeded the demo tenant 'demo': {ALL_STEPS}\n" in first.stdout
    logins = _rows(first.stdout)
    assert [(r[0], r[2], r[3]) for r in logins] == [
        ("admin", "admin@freshneighbour.example", "cxloop-demo"),
        ("cx_manager", "cx@freshneighbour.example", "cxloop-demo"),
        ("analyst", "ceo@freshneighbour.example", "cxloop-demo"),
        ("unit_manager", "east.manager@freshneighbour.example", "cxloop-demo"),
        ("unit_manager", "store.sh001@freshneighbour.example", "cxloop-demo"),
        ("agent", "agent@freshneighbour.example", "cxloop-demo"),
        ("analyst", "analyst@freshneighbour.example", "cxloop-demo"),
    ]
    assert first.stdout.endswith(
        "open http://127.0.0.1:8000/ and log in as any of them (API docs: http://127.0.0.1:8000/api/docs)\n"
    )
    counts = _counts(url)
    assert counts["kinds"] == {"hq": 1, "region": 4, "city": 12, "store": 40}
    assert counts["roles"] == {"admin": 1, "cx_manager": 1, "unit_manager": 8, "agent": 2, "analyst": 2}
    assert counts["users"] == 14

    again = cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(tmp_path / "demo-data"))
    assert f"kept the existing demo data: {ALL_STEPS}\n" in again.stdout
    assert "seeded" not in again.stdout
    assert _counts(url) == counts


def test_the_demo_history_is_in_the_dashboards_numbers(cli: Cli, tmp_path: Path, app_for) -> None:  # type: ignore[no-untyped-def]
    """The history is written in bulk, outside the pipeline; the metrics engine
    still counts all of it, because the demo builds the rollups."""
    cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(tmp_path / "demo-data"))
    token = cli.ok("tokens", "create", "--email", "ceo@freshneighbour.example").stdout.splitlines()[-1]
    with app_for(cli) as client:
        answer = client.post(
            "/api/v1/metrics/query",
            json={"metrics": ["response_count"], "filters": {"date_from": "2020-01-01"}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    assert [row["response_count"] for row in answer.json()["rows"]] == [300]


def test_demo_organisation_is_a_proper_tree(cli: Cli, tmp_path: Path) -> None:
    cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(tmp_path / "demo-data"))
    url = str(cli.env["CXLOOP_DATABASE_URL"])
    units = {u.code: u for (u,) in _query(url, select(Unit))}
    by_id = {u.id: u for u in units.values()}
    expected_parent = {"hq": None, "region": "hq", "city": "region", "store": "city"}
    for unit in units.values():
        parent = by_id[unit.parent_id].kind if unit.parent_id else None
        assert parent == expected_parent[unit.kind], unit.code
        assert unit.timezone == "Asia/Shanghai"
        assert set(unit.names) == {"zh-CN", "en"}
    assert units["SH001"].names == {"zh-CN": "上海南京西路店", "en": "Shanghai West Nanjing Road"}
    assert units["EAST"].names == {"zh-CN": "华东区", "en": "East China"}
    stores = [u for u in units.values() if u.kind == "store"]
    assert all(u.names["zh-CN"].endswith("店") for u in stores)
    assert len({u.names["zh-CN"] for u in stores}) == 40
    per_region = Counter(by_id[by_id[s.parent_id].parent_id].code for s in stores)
    assert per_region == {"EAST": 12, "SOUTH": 10, "NORTH": 10, "SW": 8}
    cities_per_region = Counter(by_id[u.parent_id].code for u in units.values() if u.kind == "city")
    assert cities_per_region == {"EAST": 3, "SOUTH": 3, "NORTH": 3, "SW": 3}


def test_every_demo_login_works_and_sees_its_scope(cli: Cli, tmp_path: Path, app_for) -> None:  # type: ignore[no-untyped-def]
    cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(tmp_path / "demo-data"))
    url = str(cli.env["CXLOOP_DATABASE_URL"])

    async def sign_in_all() -> list[str]:
        db = Database(url)
        try:
            emails = []
            for person in demo_logins():
                async with db.session(write=True) as session:
                    started = await log_in(
                        session,
                        email=person.email,
                        password=DEMO_PASSWORD,
                        ip="127.0.0.1",
                        user_agent=None,
                        policy=LoginPolicy(),
                    )
                    await session.commit()
                    emails.append(started.user.email)
            return emails
        finally:
            await db.dispose()

    assert asyncio.run(sign_in_all()) == [p.email for p in demo_logins()]
    visible = {}
    with app_for(cli) as client:
        for person in demo_logins():
            token = cli.ok("tokens", "create", "--email", person.email).stdout.splitlines()[-1]
            units = client.get("/api/v1/units?limit=500", headers={"Authorization": f"Bearer {token}"})
            assert units.status_code == 200, units.text
            visible[person.email.split("@")[0]] = len(units.json()["items"])
    assert visible == {
        "admin": 57,
        "cx": 57,
        "ceo": 57,
        "east.manager": 16,
        "store.sh001": 1,
        "agent": 1,
        "analyst": 16,
    }


# The registered steps before and after order 50, where the tests insert theirs.
BEFORE_50 = ("identity", "surveys", "rollups", "targets", "text", "customers")
AFTER_50 = ("cases", "alerts", "dashboards")


@pytest.fixture
def extra_steps():  # type: ignore[no-untyped-def]
    """Steps registered by a test are removed afterwards."""
    before = dict(demo_registry._STEPS)
    yield
    demo_registry._STEPS.clear()
    demo_registry._STEPS.update(before)


def test_a_new_step_runs_after_identity_once(database_url: str, extra_steps) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, int, float]] = []

    @seed_step("test-extra", order=50)
    async def extra(ctx: SeedContext) -> None:
        """Adds a pop-up store."""
        seen.append((len(ctx.units_of_kind("store")), len(ctx.users), ctx.rng.random()))
        await create_unit(
            ctx.session,
            ctx.tenant,
            code="SH900",
            names={"zh-CN": "上海快闪店"},
            parent_code="SH",
            kind="store",
            actor=ctx.actor,
        )

    async def run_twice():  # type: ignore[no-untyped-def]
        db = Database(database_url)
        try:
            return await seed_demo(db, response_count=50), await seed_demo(db, response_count=50)
        finally:
            await db.dispose()

    first, second = asyncio.run(run_twice())
    assert (first.created_tenant, first.ran, first.skipped) == (
        True,
        [*BEFORE_50, "test-extra", *AFTER_50],
        [],
    )
    assert (second.created_tenant, second.ran, second.skipped) == (
        False,
        [],
        [*BEFORE_50, "test-extra", *AFTER_50],
    )
    assert seen == [(40, 14, random.Random("demo:test-extra").random())]
    markers = _query(
        database_url,
        select(AuditEvent.target_id, AuditEvent.actor_label)
        .where(AuditEvent.action == "demo.seeded")
        .order_by(AuditEvent.id),
    )
    assert [tuple(m) for m in markers] == [(step, "demo") for step in (*BEFORE_50, "test-extra", *AFTER_50)]


def test_a_failed_step_leaves_nothing_and_runs_again(database_url: str, extra_steps) -> None:  # type: ignore[no-untyped-def]
    attempts: list[int] = []

    @seed_step("test-flaky", order=50)
    async def flaky(ctx: SeedContext) -> None:
        await create_unit(
            ctx.session, ctx.tenant, code="SH901", names={"en": "Flaky"}, parent_code="SH", actor=ctx.actor
        )
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("interrupted")

    async def seed():  # type: ignore[no-untyped-def]
        db = Database(database_url)
        try:
            return await seed_demo(db, response_count=50)
        finally:
            await db.dispose()

    with pytest.raises(RuntimeError, match="interrupted"):
        asyncio.run(seed())
    assert _query(database_url, select(Unit.code).where(Unit.code == "SH901")) == []
    result = asyncio.run(seed())
    assert (result.ran, result.skipped) == (["test-flaky", *AFTER_50], list(BEFORE_50))
    assert len(_query(database_url, select(Unit.code).where(Unit.code == "SH901"))) == 1


def test_a_step_name_is_registered_once(extra_steps) -> None:  # type: ignore[no-untyped-def]
    @seed_step("test-twice", order=50)
    async def one(ctx: SeedContext) -> None:
        pass

    with pytest.raises(ValueError, match="registered twice"):

        @seed_step("test-twice", order=60)
        async def two(ctx: SeedContext) -> None:
            pass


def test_demo_without_configuration_uses_cxloop_data(cli: Cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = cli.ok(
        "demo", "--no-serve", "--responses", "20", env={"CXLOOP_DATABASE_URL": None, "CXLOOP_DATA_DIR": None}
    )
    database = tmp_path / "cxloop-data" / "cxloop.db"
    assert result.stdout.startswith(f"database: sqlite:///{database}\n")
    assert database.is_file()
    assert f"seeded the demo tenant 'demo': {ALL_STEPS}" in result.stdout
