"""Commands of the contacts capability: ``cxloop import contacts FILE`` and
``cxloop contacts reencrypt`` (after putting a new field key first): it re-encrypts
every sealed column, the directory's and the configuration secrets of other domains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import cxloop.models  # noqa: F401  (every domain registers its sealed columns beside its models)
from cxloop.cli.common import TenantOption, fail, operator, run_async
from cxloop.cli.imports import import_app
from cxloop.customers import crypto
from cxloop.customers.imports import (
    MAX_FILE_BYTES,
    Mode,
    Outcome,
    RowsInvalid,
    import_contacts,
    read_table,
)
from cxloop.customers.rotation import reencrypt_batch, stale_counts
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings
from cxloop.kit.writelock import taking_turn

MAX_LISTED_ERRORS = 200

contacts_app = typer.Typer(
    no_args_is_help=True, help="The contact directory; key rotation of every sealed value."
)


def register(app: typer.Typer) -> None:
    """Add this capability's commands to ``app`` (and ``contacts`` to ``cxloop import``)."""
    import_app.command("contacts")(import_contacts_command)
    app.add_typer(contacts_app, name="contacts")


def _explain(error: AppError) -> str:
    return "\n".join([str(error)] + [f"  {e.path}: {e.message}" for e in error.errors[:MAX_LISTED_ERRORS]])


def _mapping(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        given = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        fail(f"{path}: not a readable JSON file ({exc})", 2)
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        fail(f'{path}: the mapping is an object {{"column": "target"}}', 2)
    return {str(k): str(v) for k, v in given.items()}


def import_contacts_command(
    file: Annotated[
        Path, typer.Argument(help="A CSV (UTF-8 or GB18030) or XLSX file; row 1 names the columns.")
    ],
    *,
    tenant: TenantOption = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping", metavar="FILE.json", help='{"Mobile": "phone", "Tier": "attr:tier"}; others guessed.'
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; import nothing.")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Import the valid rows even when others are not.")
    ] = False,
) -> None:
    """Import contacts from FILE: new identities create contacts, known ones update them.

    Row errors go to stderr as "row N, column C: message". Exit status: 0 when
    every row was valid, 1 when bad rows were skipped, 2 when nothing was
    imported because of errors.
    """
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            fail(f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", 2)
        data = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}", 2)
    given = _mapping(mapping)
    try:
        table = read_table(data, file.name)
    except AppError as error:
        fail(f"{file}: {_explain(error)}", 2)
    typer.echo(f"{len(table.rows)} rows, {len(table.columns)} columns", err=True)
    mode: Mode = "skip_bad_rows" if skip_bad_rows else "all_or_nothing"

    async def work(db: Database, settings: Settings) -> Outcome | RowsInvalid:
        crypto.configure(settings)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        err = Console(stderr=True)
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("importing", total=len(table.rows))

            def progress(rows: int) -> None:
                bar.advance(task, rows)

            # Take the turn at SQLite's one write lock, as the web processes do.
            async with taking_turn(db), db.session(write=True) as session:
                owner = await find_tenant(session, tenant)
                try:
                    outcome = await import_contacts(
                        session,
                        operator(owner.id),
                        table,
                        given,
                        mode=mode,
                        dry_run=dry_run,
                        progress=progress,
                    )
                except RowsInvalid as refused:
                    return refused  # listed row by row below, not as run_async's one message
                if not dry_run:
                    await session.commit()
                return outcome

    outcome = run_async(work)
    if isinstance(outcome, RowsInvalid):
        _print_errors(outcome.outcome)
        fail(f"{len(outcome.outcome.errors)} problem(s); nothing was imported", 2)
    _print_errors(outcome)
    if dry_run:
        valid = outcome.rows - outcome.skipped
        typer.echo(f"dry run: {valid} of {outcome.rows} rows are valid; nothing was imported")
    else:
        typer.echo(
            f"imported: {outcome.created} created, {outcome.updated} updated, {outcome.skipped} skipped"
        )
    if outcome.errors:
        raise typer.Exit(1 if not dry_run or skip_bad_rows else 2)


def _print_errors(outcome: Outcome) -> None:
    for error in outcome.errors[:MAX_LISTED_ERRORS]:
        column = f", column {error.column}" if error.column else ""
        typer.echo(f"row {error.row}{column}: {error.message}", err=True)
    if len(outcome.errors) > MAX_LISTED_ERRORS:
        typer.echo(f"... and {len(outcome.errors) - MAX_LISTED_ERRORS} more", err=True)


@contacts_app.command("reencrypt")
def reencrypt_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what is sealed with an older key.")
    ] = False,
) -> None:
    """Re-encrypt every sealed value with the active (first) key of CXLOOP_FIELD_KEYS, in batches:
    personal fields, webhook signing secrets, alert and distribution channel settings."""

    async def work(db: Database, settings: Settings) -> tuple[dict[str, int], int]:
        try:
            crypto.configure(settings)
        except crypto.FieldKeyError as exc:
            fail(str(exc), 2)
        async with db.session(write=False) as session:
            stale = await stale_counts(session)
        if dry_run:
            return stale, 0
        changed = 0
        while True:
            async with taking_turn(db), db.session(write=True) as session:
                try:
                    batch = await reencrypt_batch(session)
                except crypto.FieldKeyError as exc:
                    fail(f"{exc}; is every old key still listed in CXLOOP_FIELD_KEYS?", 2)
                await session.commit()
            changed += batch.changed
            if not batch.more:
                return stale, changed

    stale, changed = run_async(work)
    if dry_run:
        for column, count in stale.items():
            if count:
                typer.echo(f"{column}: {count}", err=True)
        typer.echo(f"{sum(stale.values())} value(s) are sealed with an older key")
    else:
        typer.echo(f"re-encrypted {changed} row(s) with key {crypto.keyring().active_id}")
