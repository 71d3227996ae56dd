"""``cxloop import survey``: a draft survey from another tool's export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cxloop.cli.common import TenantOption, fail, operator, run_async
from cxloop.collection.imports import (
    ALL_OR_NOTHING,
    MAX_FILE_BYTES,
    SKIP_BAD_ROWS,
    Mode,
    Outcome,
    RowError,
    RowsInvalid,
    check_rows,
    parse_mapping,
    read_table,
    store_checked,
)
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings
from cxloop.kit.writelock import taking_turn
from cxloop.surveys.definition import parse_definition
from cxloop.surveys.importers import MAX_IMPORT_BYTES, ImportResult, import_survey
from cxloop.surveys.service import create_survey

MAX_LISTED_ERRORS = 200

import_app = typer.Typer(no_args_is_help=True, help="Import surveys from other tools, and their responses.")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            fail(f"{path}: larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB", 2)
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}", 2)


def _explain(error: AppError) -> str:
    lines = [str(error)] + [f"  {e.path}: {e.message}" for e in error.errors[:20]]
    return "\n".join(lines)


@import_app.command("survey")
def import_survey_command(
    file: Annotated[
        Path, typer.Argument(help="A Qualtrics .qsf, LimeSurvey .lss, SurveyJS .json or XLSForm file.")
    ],
    *,
    tenant: TenantOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be imported; create nothing.")
    ] = False,
) -> None:
    """Create a draft survey from FILE. Warnings list what could not be mapped; the id is the last line."""
    try:
        result: ImportResult = import_survey(file.name, _read(file))
    except AppError as error:
        fail(f"{file}: {_explain(error)}")
    questions = sum(len(page["questions"]) for page in result.definition["pages"])
    pages = len(result.definition["pages"])
    typer.echo(f"{result.source_format}: {pages} pages, {questions} questions", err=True)
    for warning in result.warnings:
        typer.echo(f"warning: {warning['source']}: {warning['message']}", err=True)
    if dry_run:
        typer.echo(f"dry run: nothing created ({len(result.warnings)} warnings)")
        return

    async def work(db: Database, settings: Settings) -> str:
        async with db.session(write=True) as session:
            owner = await find_tenant(session, tenant)
            view = await create_survey(session, operator(owner.id), parse_definition(result.definition))
            await session.commit()
            return view.survey.id

    typer.echo(run_async(work))


# --- responses -------------------------------------------------------------


def _read_responses_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            fail(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", 2)
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}", 2)


def _mapping_file(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        return parse_mapping(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}", 2)
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text", 2)
    except AppError as error:
        fail(f"{path}: {_explain(error)}", 2)


def _row_error(error: RowError) -> str:
    column = f", column {error.column!r}" if error.column else ""
    return f"row {error.row}{column}: {error.path}: {error.message}"


@import_app.command("responses")
def import_responses_command(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX file.")],
    *,
    survey: Annotated[str, typer.Option("--survey", metavar="ID", help="The published survey's id.")],
    tenant: TenantOption = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            metavar="FILE.json",
            help='Column to target, {"NPS": "answers.nps"}; others are guessed.',
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", metavar="ZONE", help="Time zone of times without an offset.")
    ] = "UTC",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; import nothing.")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Import the valid rows even when others are not.")
    ] = False,
) -> None:
    """Import historical responses from FILE into a published survey.

    Without --skip-bad-rows one bad row means nothing is imported. Row errors go
    to stderr; the exit status is 0 when every row was valid, 1 when bad rows
    were skipped, 2 when nothing was imported because of errors.
    """
    data = _read_responses_file(file)
    given = _mapping_file(mapping)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"{timezone!r} is not a known time zone such as Asia/Shanghai", 2)
    try:
        table = read_table(file.name, data)
    except AppError as error:
        fail(f"{file}: {_explain(error)}", 2)
    layout = "" if table.layout == "plain" else f", {table.layout} header"
    encoding = f" {table.encoding}" if table.encoding else ""
    typer.echo(
        f"{table.format}{encoding}{layout}: {len(table.rows)} rows, {len(table.columns)} columns", err=True
    )
    mode: Mode = SKIP_BAD_ROWS if skip_bad_rows else ALL_OR_NOTHING

    async def work(db: Database, settings: Settings) -> tuple[Outcome, bool]:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        err = Console(stderr=True)
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("importing", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            # Rows are checked in a read session. Storing takes the turn at SQLite's one
            # write lock that the web processes take too, so they wait for it in order
            # instead of running out their busy timeout.
            async with db.session(write=False) as reading:
                owner = await find_tenant(reading, tenant)
                principal = operator(owner.id)
                checked = await check_rows(
                    reading,
                    principal,
                    survey,
                    table,
                    given,
                    mode=mode,
                    dry_run=dry_run,
                    zone=zone,
                    progress=progress,
                )
            if dry_run:
                return checked.outcome, False
            async with taking_turn(db), db.session(write=True) as session:
                try:
                    outcome = await store_checked(session, principal, checked, progress=progress)
                except RowsInvalid as refused:
                    return refused.outcome, True
                await session.commit()
                return outcome, False

    outcome, refused = run_async(work)
    if outcome.unmapped:
        typer.echo(f"not imported: columns {', '.join(repr(c) for c in outcome.unmapped)}", err=True)
    for row_error in outcome.errors[:MAX_LISTED_ERRORS]:
        typer.echo(_row_error(row_error), err=True)
    if len(outcome.errors) > MAX_LISTED_ERRORS:
        typer.echo(f"... and {len(outcome.errors) - MAX_LISTED_ERRORS} more errors", err=True)
    bad = outcome.bad_rows
    if refused:
        fail(f"{bad} of {outcome.rows} rows are not valid; nothing was imported", 2)
    if dry_run:
        typer.echo(f"dry run: {outcome.valid} of {outcome.rows} rows are valid; nothing imported")
        if bad:
            raise typer.Exit(2 if mode == ALL_OR_NOTHING else 1)
        return
    typer.echo(f"imported {outcome.imported} of {outcome.rows} rows" + (f" ({bad} skipped)" if bad else ""))
    if bad:
        raise typer.Exit(1)
