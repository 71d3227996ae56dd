"""What every command shares: the Typer app, async running, clean failures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError

from cxloop.identity.access import Grant, Principal, Role
from cxloop.identity.audit import Actor
from cxloop.kit.db import Database
from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings, get_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="cxloop: open-source customer-experience management.",
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

# Who the audit log names for everything done from the command line.
CLI_LABEL = "cli"

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", metavar="SLUG", help="The tenant's slug (default: the only tenant)."),
]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def describe(error: AppError) -> str:
    parts = [error.detail]
    parts += [f"  {e.path}: {e.message}" for e in error.errors if e.message != error.detail]
    return "\n".join(parts)


NO_SCHEMA = "the database has no schema yet; run `cxloop db upgrade` first"


def sqlite_file_missing(settings: Settings) -> bool:
    """Opening a missing SQLite file would create an empty one; say what to do instead."""
    url = settings.effective_database_url
    if not settings.is_sqlite or ":memory:" in url or "mode=memory" in url:
        return False
    return not Path(url.split("///", 1)[-1].split("?", 1)[0]).exists()


def _missing_schema(error: DBAPIError) -> bool:
    text = str(error.orig)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def run_async(work: Callable[[Database, Settings], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run ``work`` with a database; domain errors become a message and exit 1
    (exit 2 for invalid input, like a usage error)."""
    settings = settings or get_settings()
    if sqlite_file_missing(settings):
        fail(NO_SCHEMA)

    async def runner() -> T:
        db = Database(settings.effective_database_url)
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(runner())
    except AppError as error:
        fail(describe(error), 2 if error.status == 422 else 1)
    except DBAPIError as error:
        if _missing_schema(error):
            fail(NO_SCHEMA)
        if isinstance(error, OperationalError):
            first_line = (
                str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else "unknown error"
            )
            fail(f"cannot use the database at {redact_url(settings.effective_database_url)}: {first_line}")
        raise


def redact_url(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def cli_actor(tenant_id: str | None) -> Actor:
    return Actor(tenant_id=tenant_id, label=CLI_LABEL)


def operator(tenant_id: str) -> Principal:
    """The command line acts as a tenant admin: whoever can run it owns the install."""
    return Principal(
        tenant_id=tenant_id,
        kind="service",
        user_id=None,
        token_id=None,
        label=CLI_LABEL,
        name=CLI_LABEL,
        locale=None,
        grants=(Grant(Role.ADMIN, None, None, None),),
    )


def console() -> Console:
    """Rich output; when piped, wide enough that tables do not truncate."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True, highlight=False)


def plain(*cells: str | None) -> list[Text]:
    """Table cells shown as given: user data is never read as rich markup."""
    return [Text(cell or "") for cell in cells]


def echo_err(*args: Any) -> None:
    print(*args, file=sys.stderr)
