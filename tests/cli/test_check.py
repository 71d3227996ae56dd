"""``cxloop check`` and ``cxloop db``."""

from __future__ import annotations

from cxloop.kit.migrate import script_heads
from tests.cli.conftest import Cli
from tests.cli.test_users import _rows

HEAD = ", ".join(sorted(script_heads()))


def _statuses(result_stdout: str) -> dict[str, str]:
    return {row[0]: row[1] for row in _rows(result_stdout)}


def test_healthy_install_passes(cli: Cli) -> None:
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert _statuses(result.stdout) == {
        "database url": "ok",
        "data dir": "ok",
        "secret key": "ok",
        "job broker": "ok",
        "assets": "ok",
        "database": "ok",
        "migrations": "ok",
    }
    assert {r[0]: r[2] for r in _rows(result.stdout)}["migrations"] == f"at head {HEAD}"
    assert result.stdout.endswith("all checks passed\n")
    assert result.stderr == ""


def test_empty_database_fails_until_upgraded(empty_cli: Cli) -> None:
    before = empty_cli("check")
    assert before.exit_code == 1
    statuses = _statuses(before.stdout)
    failed = [name for name, status in statuses.items() if status == "fail"]
    assert failed in (["database"], ["migrations"])  # SQLite: no file yet; PostgreSQL: an empty schema
    assert "run `cxloop db upgrade`" in before.stdout
    assert before.stderr == f"error: 1 check(s) failed: {failed[0]}\n"

    assert empty_cli.ok("db", "current").stdout.startswith("none (empty database) (behind; head is")
    assert empty_cli.ok("db", "upgrade").stdout.endswith(f"is at {HEAD} (head)\n")
    assert empty_cli.ok("db", "current").stdout == f"{HEAD} (head)\n"
    assert empty_cli.ok("db", "upgrade").stdout.endswith(f"is at {HEAD} (head)\n")  # again: nothing to do
    assert empty_cli("check").exit_code == 0


def test_unreachable_redis_fails(cli: Cli) -> None:
    result = cli("check", env={"CXLOOP_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 1
    row = {r[0]: r for r in _rows(result.stdout)}["job broker"]
    assert row[1] == "fail"
    assert row[2].startswith("Redis redis://127.0.0.1:1/0 unreachable:")
    assert result.stderr == "error: 1 check(s) failed: job broker\n"


def test_reachable_redis_passes(cli: Cli) -> None:
    result = cli("check", env={"CXLOOP_REDIS_URL": "redis://127.0.0.1:6379/0"})
    row = {r[0]: r for r in _rows(result.stdout)}["job broker"]
    assert (row[1], row[2]) == ("ok", "Redis redis://127.0.0.1:6379/0 answers")
    assert result.exit_code == 0


def test_weak_secret_and_missing_assets_fail(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", env={"CXLOOP_SECRET_KEY": "short", "CXLOOP_ASSETS_DIR": str(tmp_path / "nothing")})
    assert result.exit_code == 1
    statuses = _statuses(result.stdout)
    assert (statuses["secret key"], statuses["assets"]) == ("fail", "fail")
    assert result.stderr == "error: 2 check(s) failed: secret key, assets\n"


def test_unreachable_database_fails(cli: Cli) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = cli("check", env={"CXLOOP_DATABASE_URL": url})
    assert result.exit_code == 1
    row = {r[0]: r for r in _rows(result.stdout)}["database"]
    assert row[1] == "fail"
    assert row[2].startswith("cannot connect:")
    assert "migrations" not in _statuses(result.stdout)
    listing = cli("units", "list", env={"CXLOOP_DATABASE_URL": url})
    assert listing.exit_code == 1
    assert listing.stderr.startswith(
        "error: cannot use the database at postgresql+psycopg://nobody@127.0.0.1:1/none:"
    )
