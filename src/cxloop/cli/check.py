"""``cxloop check``: is this install configured and its database healthy?

Each probe answers ok, warn or fail with one line of detail; any fail makes
the exit code 1 so that deploy scripts and health checks can rely on it.
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import create_engine, text

import cxloop
from cxloop.cli.common import console, plain, redact_url
from cxloop.kit import migrate
from cxloop.kit.db import sync_url
from cxloop.kit.settings import Settings, get_settings

# The browser assets the pages load from this server (never from another host).
REQUIRED_ASSETS = ("htmx.org/dist/htmx.min.js", "echarts/dist/echarts.min.js")
MIN_SECRET_LENGTH = 32


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    name: str
    status: Status
    detail: str


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check() -> None:
    """Check the configuration and the database; exit 1 when something is wrong."""
    settings = get_settings()
    findings = run_checks(settings)
    table = Table("check", "status", "detail")
    for finding in findings:
        table.add_row(*plain(finding.name, finding.status.value, finding.detail))
    console().print(table)
    failed = [f.name for f in findings if f.status == Status.FAIL]
    if failed:
        typer.secho(
            f"error: {len(failed)} check(s) failed: {', '.join(failed)}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(1)
    typer.echo("all checks passed")


def run_checks(settings: Settings) -> list[Finding]:
    probes: list[Callable[[Settings], Finding]] = [
        _database_url,
        _data_dir,
        _secret_key,
        _redis,
        _assets,
        _database_connects,
    ]
    findings = [probe(settings) for probe in probes]
    if findings[-1].status == Status.OK:
        findings.append(_migrations(settings))
    return findings


def _database_url(settings: Settings) -> Finding:
    url = settings.effective_database_url
    if settings.is_sqlite:
        detail = f"SQLite at {url.removeprefix('sqlite:///')}"
        if not settings.database_url:
            detail += " (default; set CXLOOP_DATABASE_URL for PostgreSQL)"
        return Finding("database url", Status.OK, detail)
    return Finding("database url", Status.OK, f"PostgreSQL {redact_url(url)}")


def _data_dir(settings: Settings) -> Finding:
    """The data dir holds the SQLite files, the job queue and the generated key."""
    path = settings.data_dir.resolve()
    needed = settings.is_sqlite or settings.redis_url is None or not settings.secret_key
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".check-"):
            pass
    except OSError as error:
        return Finding("data dir", Status.FAIL if needed else Status.WARN, f"{path} is not writable: {error}")
    return Finding("data dir", Status.OK, f"{path} is writable")


def _secret_key(settings: Settings) -> Finding:
    if settings.secret_key:
        if len(settings.secret_key) < MIN_SECRET_LENGTH:
            return Finding(
                "secret key",
                Status.FAIL,
                f"CXLOOP_SECRET_KEY has {len(settings.secret_key)} characters; "
                f"use at least {MIN_SECRET_LENGTH}",
            )
        return Finding("secret key", Status.OK, "from CXLOOP_SECRET_KEY")
    key_file = settings.data_dir.resolve() / "secret.key"
    where = f"{key_file} ({'present' if key_file.exists() else 'made on first start'})"
    if not settings.is_sqlite:
        # Several hosts must sign cookies with the same key.
        return Finding(
            "secret key",
            Status.WARN,
            f"generated file {where}; set CXLOOP_SECRET_KEY when web processes run on more than one host",
        )
    return Finding("secret key", Status.OK, f"generated file {where}")


def _redis(settings: Settings) -> Finding:
    if not settings.redis_url:
        queue = (settings.data_dir.resolve() / "jobs.db").as_posix()
        return Finding("job broker", Status.OK, f"SQLite queue {queue}, worker embedded in the web process")
    import redis

    shown = redact_url(settings.redis_url)
    try:
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        return Finding("job broker", Status.FAIL, f"Redis {shown} unreachable: {error}")
    return Finding("job broker", Status.OK, f"Redis {shown} answers")


def asset_dirs(settings: Settings) -> list[Path]:
    if settings.assets_dir is not None:
        return [settings.assets_dir]
    repo_root = Path(cxloop.__file__).resolve().parents[2]
    return [Path.cwd() / "node_modules", repo_root / "node_modules"]


def _assets(settings: Settings) -> Finding:
    for base in asset_dirs(settings):
        if all((base / name).is_file() for name in REQUIRED_ASSETS):
            return Finding("assets", Status.OK, f"htmx and echarts in {base}")
    searched = ", ".join(str(p) for p in asset_dirs(settings))
    missing = ", ".join(REQUIRED_ASSETS)
    return Finding(
        "assets", Status.FAIL, f"{missing} not found in {searched}; run `npm ci` or set CXLOOP_ASSETS_DIR"
    )


def _database_connects(settings: Settings) -> Finding:
    url = settings.effective_database_url
    if settings.is_sqlite and not Path(url.removeprefix("sqlite:///")).exists():
        return Finding("database", Status.FAIL, "the SQLite file does not exist yet; run `cxloop db upgrade`")
    engine = create_engine(sync_url(url), connect_args=_connect_timeout(settings))
    try:
        with engine.connect() as conn:
            version = conn.execute(
                text("select sqlite_version()" if settings.is_sqlite else "show server_version")
            )
            return Finding("database", Status.OK, f"connected ({engine.dialect.name} {version.scalar()})")
    except Exception as error:
        first_line = str(getattr(error, "orig", error)).strip().splitlines()
        return Finding("database", Status.FAIL, f"cannot connect: {first_line[0] if first_line else error!r}")
    finally:
        engine.dispose()


def _connect_timeout(settings: Settings) -> dict[str, int]:
    return {} if settings.is_sqlite else {"connect_timeout": 5}


def _migrations(settings: Settings) -> Finding:
    current = migrate.current_heads(settings.effective_database_url)
    wanted = migrate.script_heads()
    if current == wanted:
        return Finding("migrations", Status.OK, f"at head {', '.join(sorted(current))}")
    shown = ", ".join(sorted(current)) or "none"
    return Finding(
        "migrations",
        Status.FAIL,
        f"database at {shown}, code expects {', '.join(sorted(wanted))}; run `cxloop db upgrade`",
    )
