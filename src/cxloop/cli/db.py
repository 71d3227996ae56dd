"""``cxloop db``: the schema, made and checked by Alembic migrations only."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from cxloop.cli.common import fail, redact_url, sqlite_file_missing
from cxloop.kit import migrate
from cxloop.kit.crypto import FieldKeyError
from cxloop.kit.settings import get_settings

db_app = typer.Typer(no_args_is_help=True, help="Database schema: upgrade, current revision.")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration (safe to run again)."""
    url = get_settings().effective_database_url
    try:
        migrate.upgrade(url)
        heads = migrate.current_heads(url)
    except OperationalError as error:
        fail(f"cannot migrate {redact_url(url)}: {str(error.orig).strip().splitlines()[0]}")
    except FieldKeyError as error:
        # Migration 0014 seals stored secrets with the installation's key ring: a ring that
        # cannot be built is the operator's setting to fix, not a crash (its transaction is
        # rolled back, so the database stays at the revision before).
        fail(
            f"cannot migrate {redact_url(url)}: {error} "
            "(the migration seals the stored secrets with CXLOOP_FIELD_KEYS)",
            2,
        )
    typer.echo(f"database {redact_url(url)} is at {', '.join(sorted(heads))} (head)")


@db_app.command("current")
def current() -> None:
    """Show the database's revision and whether it is the newest."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        heads = set() if sqlite_file_missing(settings) else migrate.current_heads(url)
    except OperationalError as error:
        fail(f"cannot read {redact_url(url)}: {str(error.orig).strip().splitlines()[0]}")
    wanted = migrate.script_heads()
    shown = ", ".join(sorted(heads)) or "none (empty database)"
    state = (
        "head" if heads == wanted else f"behind; head is {', '.join(sorted(wanted))}: run `cxloop db upgrade`"
    )
    typer.echo(f"{shown} ({state})")
