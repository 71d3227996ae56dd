"""``cxloop import survey``: a draft survey from another tool's export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.common import TenantOption, fail, operator, run_async
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings
from cxloop.surveys.definition import parse_definition
from cxloop.surveys.importers import MAX_IMPORT_BYTES, ImportResult, import_survey
from cxloop.surveys.service import create_survey

import_app = typer.Typer(no_args_is_help=True, help="Import surveys from other tools.")


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
