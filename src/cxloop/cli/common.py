"""What every command shares: the Typer app, async running, clean failures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer

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


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def describe(error: AppError) -> str:
    parts = [error.detail]
    parts += [f"  {e.path}: {e.message}" for e in error.errors if e.message != error.detail]
    return "\n".join(parts)


def run_async(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    """Run ``work`` with a database; domain errors become a message and exit 1."""
    settings = get_settings()

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
    except Exception as error:  # noqa: BLE001 - the CLI reports, it does not dump a traceback
        if "no such table" in str(error) or "does not exist" in str(error):
            fail("the database has no schema yet; run `cxloop db upgrade` first")
        raise


def echo_err(*args: Any) -> None:
    print(*args, file=sys.stderr)
