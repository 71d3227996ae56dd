"""What an export reads: the survey's published versions (for the columns)
and its responses within the caller's DATA_READ reach, page by page.

Each page is read in its own short transaction, keyed on the response id,
so a long export neither holds a snapshot open (PostgreSQL) nor keeps the
SQLite WAL from being checkpointed, and memory stays one page deep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.export.columns import Column, Row, plan_columns
from cxloop.collection.models import Response
from cxloop.identity import Perm, Principal, Unit, visible_unit
from cxloop.kit.db import Database
from cxloop.kit.errors import not_found
from cxloop.surveys import Survey, SurveyDefinition, SurveyVersion, parse_definition, text_in

PAGE_SIZE = 1000
Format = Literal["csv", "xlsx", "sav"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "sav")


@dataclass(frozen=True)
class ExportFilter:
    unit_code: str | None = None
    channel: str | None = None
    touchpoint: str | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    # As on the list: "complete" (what analyses use), "partial" or "all".
    status: str = "complete"
    # Resume: only responses after this id (exports run in id order).
    after: str | None = None

    def described(self) -> dict[str, str]:
        """The filters that were set, for the audit log (no response data)."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else str(value)
            for name, value in vars(self).items()
            if value is not None
        }


@dataclass(frozen=True)
class ExportPlan:
    """Everything decided before the first row is read."""

    principal: Principal
    survey_id: str
    where: ExportFilter
    unit_path: str | None
    columns: list[Column]
    language: str
    labelled: bool
    title: str


async def _definitions(session: AsyncSession, survey_id: str) -> list[SurveyDefinition]:
    statement = (
        select(SurveyVersion.definition)
        .where(SurveyVersion.survey_id == survey_id, SurveyVersion.published_at.is_not(None))
        .order_by(SurveyVersion.version.desc())
    )
    return [parse_definition(stored) for stored in (await session.execute(statement)).scalars()]


async def plan_export(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    where: ExportFilter,
    *,
    labelled: bool = False,
    language: str | None = None,
) -> ExportPlan:
    """Check the caller may read, the survey and unit exist for them, and fix the columns."""
    principal.require(Perm.DATA_READ)
    if len(survey_id) > 26:
        raise not_found("survey")
    survey = (
        await session.execute(
            select(Survey).where(Survey.id == survey_id, Survey.tenant_id == principal.tenant_id)
        )
    ).scalar_one_or_none()
    if survey is None:
        raise not_found("survey")
    unit_path = None
    if where.unit_code is not None:
        unit_path = (await visible_unit(session, principal, where.unit_code, Perm.DATA_READ)).path
    definitions = await _definitions(session, survey.id)
    default_language = definitions[0].default_language if definitions else "en"
    chosen = language or default_language
    title = ""
    if definitions:
        title = text_in(dict(definitions[0].title), chosen, default_language)
    return ExportPlan(
        principal=principal,
        survey_id=survey.id,
        where=where,
        unit_path=unit_path,
        columns=plan_columns(definitions, chosen),
        language=chosen,
        labelled=labelled,
        title=title,
    )


def _statement(plan: ExportPlan) -> Any:
    principal, where = plan.principal, plan.where
    reach = principal.reach(Perm.DATA_READ)
    statement = (
        select(*Row.columns())
        .outerjoin(Unit, Unit.id == Response.unit_id)
        .where(
            Response.tenant_id == principal.tenant_id,
            Response.survey_id == plan.survey_id,
            reach.unit_clause(Unit.id, Unit.path),
        )
    )
    if plan.unit_path is not None:
        statement = statement.where(Unit.path.startswith(plan.unit_path))
    if where.channel is not None:
        statement = statement.where(Response.channel == where.channel)
    if where.touchpoint is not None:
        statement = statement.where(Response.touchpoint == where.touchpoint)
    if where.submitted_from is not None:
        statement = statement.where(Response.submitted_at >= where.submitted_from)
    if where.submitted_to is not None:
        statement = statement.where(Response.submitted_at < where.submitted_to)
    if where.after is not None:
        statement = statement.where(Response.id > where.after)
    if where.status != "all":
        statement = statement.where(Response.status == where.status)
    return statement


async def read_pages(
    db: Database, plan: ExportPlan, page_size: int | None = None
) -> AsyncIterator[list[Row]]:
    """The plan's responses in id (arrival) order, ``page_size`` (default PAGE_SIZE) at a time."""
    page_size = page_size or PAGE_SIZE
    base = _statement(plan)
    after: str | None = None
    while True:
        statement = base if after is None else base.where(Response.id > after)
        async with db.session(write=False) as session:
            result = await session.execute(statement.order_by(Response.id).limit(page_size))
            page = [Row(*values) for values in result.all()]
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        after = page[-1].id
