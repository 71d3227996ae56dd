"""``cxloop users``."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from cxloop.identity.models import AuditEvent, User
from cxloop.kit.db import Database
from cxloop.kit.security import verify_password
from tests.cli.conftest import Cli, flat
from tests.factories import Org

PASSWORD = "correct-horse-battery"


def _rows(table: str) -> list[list[str]]:
    """The data rows of a rich table, cells stripped."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]


def _query(url: str, statement):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        db = Database(url)
        try:
            async with db.session(write=False) as session:
                return (await session.execute(statement)).all()
        finally:
            await db.dispose()

    return asyncio.run(run())


def _user_count(cli: Cli) -> int:
    return _query(str(cli.env["CXLOOP_DATABASE_URL"]), select(func.count()).select_from(User))[0][0]


def test_create_with_password_from_the_environment(cli: Cli, org: Org) -> None:
    result = cli.ok(
        "users",
        "create",
        "--email",
        "Li.Lei@Acme.test",
        "--role",
        "agent",
        "--unit",
        "SH002",
        "--name",
        "李雷",
        "--locale",
        "zh-CN",
        env={"CXLOOP_PASSWORD": PASSWORD},
    )
    assert result.output == "created user li.lei@acme.test (agent at SH002)\n"
    assert PASSWORD not in result.output
    [(stored,)] = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(User.password_hash).where(User.email == "li.lei@acme.test"),
    )
    assert verify_password(stored, PASSWORD)
    row = [r for r in _rows(cli.ok("users", "list").stdout) if r[0] == "li.lei@acme.test"]
    assert [r[:6] for r in row] == [["li.lei@acme.test", "李雷", "agent", "SH002", "active", "zh-CN"]]
    [(actor, details)] = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(AuditEvent.actor_label, AuditEvent.details).where(
            AuditEvent.action == "user.created", AuditEvent.actor_label == "cli"
        ),
    )
    assert (actor, details) == ("cli", {"email": "li.lei@acme.test", "role": "agent", "unit_code": "SH002"})


def test_create_asks_for_the_password_when_interactive(
    cli: Cli, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cxloop.cli.users.interactive", lambda: True)
    result = cli(
        "users",
        "create",
        "--email",
        "han@acme.test",
        "--role",
        "cx_manager",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert result.stdout.splitlines()[-1] == "created user han@acme.test (cx_manager)"


def test_create_without_any_password_source_is_refused(cli: Cli, org: Org) -> None:
    result = cli("users", "create", "--email", "han@acme.test", "--role", "cx_manager")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: give a password with --password or CXLOOP_PASSWORD (or run interactively to be asked)\n"
    )
    token_only = cli.ok(
        "users", "create", "--email", "bot@acme.test", "--role", "analyst", "--unit", "EAST", "--no-password"
    )
    assert token_only.output == "created user bot@acme.test (analyst at EAST)\n"


def test_create_refusals_leave_nothing_behind(cli: Cli, org: Org) -> None:
    before = _user_count(cli)
    base = ["users", "create", "--password", PASSWORD]
    cases = [
        (
            ["--email", "new@acme.test", "--role", "unit_manager", "--unit", "NOPE"],
            2,
            "error: No unit with code 'NOPE'.\n",
        ),
        (
            ["--email", "not-an-email", "--role", "admin"],
            2,
            "error: Not a valid email address: An email address must have an @-sign.\n",
        ),
        (
            ["--email", "east@acme.test", "--role", "admin"],
            1,
            "error: An account with this email exists already.\n",
        ),
        (["--email", "new@acme.test", "--role", "agent"], 2, "error: The role agent needs a unit.\n"),
        (
            ["--email", "new@acme.test", "--role", "admin", "--locale", "fr"],
            2,
            "error: Unsupported language 'fr'; one of zh-CN, zh-TW, en.\n",
        ),
    ]
    for args, code, message in cases:
        result = cli(*base, *args)
        assert (result.exit_code, result.stderr) == (code, message), args
    weak = cli("users", "create", "--email", "new@acme.test", "--role", "admin", "--password", "short")
    assert (weak.exit_code, weak.stderr) == (2, "error: A password needs at least 10 characters.\n")
    unknown_role = cli(*base, "--email", "new@acme.test", "--role", "boss")
    assert unknown_role.exit_code == 2
    assert (
        "Invalid value for '--role': Value error, 'boss' is not one of "
        "'admin', 'cx_manager', 'unit_manager', 'agent', 'analyst'." in flat(unknown_role.stderr)
    )
    assert _user_count(cli) == before


def test_list_shows_everyone_with_role_and_unit(cli: Cli, org: Org) -> None:
    cli.ok("users", "disable", "--email", "agent@acme.test")
    rows = _rows(cli.ok("users", "list").stdout)
    assert [r[:5] for r in rows] == [
        ["admin@acme.test", "Admin", "admin", "(all)", "active"],
        ["agent@acme.test", "Agent", "agent", "SH001", "disabled"],
        ["analyst@acme.test", "Analyst", "analyst", "EAST", "active"],
        ["cx@acme.test", "Cx", "cx_manager", "(all)", "active"],
        ["east@acme.test", "East", "unit_manager", "EAST", "active"],
        ["store@acme.test", "Store", "unit_manager", "SH001", "active"],
    ]
    active = _rows(cli.ok("users", "list", "--active").stdout)
    assert "agent@acme.test" not in [r[0] for r in active]
    assert len(active) == 5


def test_disable_stops_the_token_and_enable_restores_it(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/me", headers=org.auth("east")).status_code == 200
    assert cli.ok("users", "disable", "--email", "EAST@acme.test").output == "disabled east@acme.test\n"
    assert client.get("/api/v1/me", headers=org.auth("east")).status_code == 401
    assert cli.ok("users", "enable", "--email", "east@acme.test").output == "enabled east@acme.test\n"
    assert client.get("/api/v1/me", headers=org.auth("east")).status_code == 200
    actions = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(AuditEvent.action, AuditEvent.actor_label)
        .where(
            AuditEvent.target_id == org.user_ids["east"],
            AuditEvent.action.in_(["user.disabled", "user.enabled"]),
        )
        .order_by(AuditEvent.id),
    )
    assert [tuple(a) for a in actions] == [("user.disabled", "cli"), ("user.enabled", "cli")]


def test_disable_unknown_user(cli: Cli, org: Org) -> None:
    result = cli("users", "disable", "--email", "nobody@acme.test")
    assert (result.exit_code, result.stderr) == (1, "error: No such user.\n")
    other_tenant = cli("users", "disable", "--email", "east@acme.test", "--tenant", "nope")
    assert (other_tenant.exit_code, other_tenant.stderr) == (1, "error: No tenant 'nope'.\n")


def test_set_role_changes_the_scope(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    moved = cli.ok("users", "set-role", "--email", "east@acme.test", "--role", "analyst", "--unit", "SOUTH")
    assert moved.output == "east@acme.test is now analyst at SOUTH\n"
    me = client.get("/api/v1/me", headers=org.auth("east")).json()
    assert me["memberships"] == [{"role": "analyst", "unit_code": "SOUTH", "unit_name": "华南区"}]
    assert me["scope"] == {"everywhere": False, "unit_codes": ["SOUTH"]}

    kept_unit = cli.ok("users", "set-role", "--email", "east@acme.test", "--role", "unit_manager")
    assert kept_unit.output == "east@acme.test is now unit_manager at SOUTH\n"
    promoted = cli.ok("users", "set-role", "--email", "east@acme.test", "--role", "cx_manager")
    assert promoted.output == "east@acme.test is now cx_manager\n"
    assert client.get("/api/v1/me", headers=org.auth("east")).json()["scope"] == {
        "everywhere": True,
        "unit_codes": [],
    }
    [(details,)] = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(AuditEvent.details)
        .where(AuditEvent.action == "role.changed", AuditEvent.actor_label == "cli")
        .order_by(AuditEvent.id.desc())
        .limit(1),
    )
    assert details == {"before": [["unit_manager", "SOUTH"]], "after": ["cx_manager", None]}


def test_set_role_refusals(cli: Cli, org: Org) -> None:
    no_unit = cli("users", "set-role", "--email", "cx@acme.test", "--role", "agent")
    assert (no_unit.exit_code, no_unit.stderr) == (2, "error: The role agent needs a unit.\n")
    bad_unit = cli("users", "set-role", "--email", "east@acme.test", "--role", "agent", "--unit", "NOPE")
    assert (bad_unit.exit_code, bad_unit.stderr) == (2, "error: No unit with code 'NOPE'.\n")
    rows = {r[0]: r[2:4] for r in _rows(cli.ok("users", "list").stdout)}
    assert rows["cx@acme.test"] == ["cx_manager", "(all)"]
    assert rows["east@acme.test"] == ["unit_manager", "EAST"]
