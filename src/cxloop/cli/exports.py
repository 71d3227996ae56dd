"""``cxloop export responses``: a survey's responses as CSV, XLSX or SPSS .sav."""

from __future__ import annotations

import enum
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.common import TenantOption, cli_actor, fail, operator, run_async
from cxloop.collection.export import ExportFilter, plan_export, record_export, write_export
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings

export_app = typer.Typer(no_args_is_help=True, help="Export data.")

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    SAV = "sav"


class Status(enum.StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    ALL = "all"


LanguageOption = Annotated[
    str | None,
    typer.Option("--language", metavar="LANG", help="Texts in this language (default: the survey's)."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", metavar="FILE", help="Write here (default: stdout).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


def _scratch(near: Path | None, suffix: str) -> Path:
    """A file to write into first, so that a failed export never leaves half a file at --out."""
    directory = str(near.parent) if near is not None else None
    descriptor, name = tempfile.mkstemp(prefix=".cxloop-export-", suffix=suffix, dir=directory)
    os.close(descriptor)
    return Path(name)


@export_app.command("responses")
def export_responses_command(
    *,
    survey: Annotated[str, typer.Option("--survey", metavar="ID", help="The survey's id.")],
    format_: Annotated[ExportFormat, typer.Option("--format", help="csv, xlsx or sav.")] = ExportFormat.CSV,
    labels: Annotated[
        bool, typer.Option("--labels", help="Choice and scale texts instead of codes (CSV, XLSX).")
    ] = False,
    language: LanguageOption = None,
    status: Annotated[Status, typer.Option("--status", help="complete, partial or all.")] = Status.COMPLETE,
    unit: Annotated[
        str | None, typer.Option("--unit", metavar="CODE", help="Only this unit and the units below it.")
    ] = None,
    out: OutOption = None,
    tenant: TenantOption = None,
) -> None:
    """Export a survey's responses; the command line sees every unit of the tenant."""
    if language is not None and not LANGUAGE.match(language):
        fail(f"--language {language!r} is not a language tag like zh-CN or en", 2)
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        fail(f"--out {out}: not a file in an existing directory", 2)
    scratch = _scratch(out, f".{format_.value}")

    async def work(db: Database, settings: Settings) -> int:
        async with db.session(write=False) as session:
            owner = await find_tenant(session, tenant)
            where = ExportFilter(unit_code=unit, status=status.value)
            plan = await plan_export(
                session, operator(owner.id), survey, where, labelled=labels, language=language
            )
        count = await write_export(db, plan, format_.value, scratch)
        async with db.session(write=True) as session:
            record_export(session, cli_actor(owner.id), plan, format_.value)
            await session.commit()
        return count

    try:
        count = run_async(work)
        if out is None:
            with scratch.open("rb") as written:
                shutil.copyfileobj(written, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            scratch.replace(out)
    finally:
        scratch.unlink(missing_ok=True)
    where_to = "stdout" if out is None else str(out)
    typer.echo(f"{count} responses exported to {where_to} ({format_.value})", err=True)
