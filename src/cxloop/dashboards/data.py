"""The data behind a dashboard: every widget's query, run server-side as the viewer.

Metrics come from analytics' query engine (``run_metrics_query``), which
applies the viewer's scope and the anonymity threshold; the comment list and
the responses at the bottom of a drill-down come from the stored responses,
through the same scope funnel. One widget's failure (an unknown metric, a
group too small) is reported on that widget and never fails the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop import analytics, cases
from cxloop.collection import Response
from cxloop.dashboards.schemas import (
    COMMENT_WIDGETS,
    MAX_ROWS,
    TEXT_WIDGETS,
    DashboardDefinition,
    DashboardFilters,
    Widget,
)
from cxloop.dashboards.text_widgets import text_insight, with_topics
from cxloop.identity import Perm, Principal, Tenant, Unit, display_name, visible_unit
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import AppError, FieldError, ValidationFailed
from cxloop.surveys import Survey, published_definition
from cxloop.text import CommentAnalysis, searchable_text, to_simplified

log = logging.getLogger("cxloop.dashboards")

QueryRunner = Callable[[AsyncSession, Principal, dict[str, Any]], Awaitable[dict[str, Any]]]
CASES_METRIC = "open_cases"
UNIT_LEVEL = "unit_level:"
# How many recent responses a comment list reads to find its comments.
COMMENT_SCAN = 1000
PASSED_META = frozenset(
    {
        "total_rows",
        "next_cursor",
        "message",
        "source",
        "period",
        "comparison_period",
        "min_n",
        "suppressed_groups",
        "notes",
        "method",
        "r2",
        "n",
        "mean_importance",
        "mean_performance",
        "outcome",
        "nps",
        "comments",
        "comments_before",
    }
)
RATING_TYPES = frozenset({"rating", "csat", "ces"})
MAX_COMMENT_CHARS = 2000


class AnalyticsUnavailable(AppError):
    status = 503
    default_code = "analytics_unavailable"
    title = "Analytics unavailable"


async def analytics_runner(
    session: AsyncSession, principal: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    """Analytics' in-process query API; looked up at call time so this module
    loads (and the rest of the dashboard works) before analytics ships it."""
    run = getattr(analytics, "run_metrics_query", None)
    model = getattr(analytics, "MetricsQuery", None)
    if run is None or model is None:
        raise AnalyticsUnavailable("The metrics query engine is not installed.")
    try:
        query = model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(
            "The widget's query is not valid.",
            code="invalid_widget_query",
            errors=[FieldError(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()],
        ) from exc
    result: dict[str, Any] = await run(session, principal, query)
    return result


# Tests and benchmarks may swap the runner; the app always uses analytics'.
query_runner: QueryRunner = analytics_runner


@dataclass(frozen=True)
class ResolvedFilters:
    date_from: date | None
    date_to: date | None
    unit: Unit | None
    survey_id: str | None
    channel: str | None
    touchpoint: str | None

    def as_query_filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        if self.unit is not None:
            out["unit_code"] = self.unit.code
        if self.channel:
            out["channel"] = self.channel
        if self.touchpoint:
            out["touchpoint"] = self.touchpoint
        return out

    def public(self) -> dict[str, Any]:
        out = self.as_query_filters()
        if self.survey_id:
            out["survey_id"] = self.survey_id
        return out


def period_dates(filters: DashboardFilters, today: date) -> tuple[date | None, date | None]:
    if filters.period == "custom":
        return filters.date_from, filters.date_to
    if filters.period == "all":
        return None, None
    if filters.period == "ytd":
        return date(today.year, 1, 1), today
    days = {"7d": 7, "30d": 30, "90d": 90, "12m": 365}[filters.period]
    return today - timedelta(days=days - 1), today


async def resolve_filters(
    session: AsyncSession, principal: Principal, filters: DashboardFilters, today: date | None = None
) -> ResolvedFilters:
    """Global filters checked against the viewer's scope: a unit outside it is a 404."""
    if today is None:
        # Periods end on the tenant's local today, the day the engine files today's answers under.
        tenant = await session.get(Tenant, principal.tenant_id)
        zone = ZoneInfo(tenant.timezone if tenant is not None else "UTC")
        today = utc_now().astimezone(zone).date()
    date_from, date_to = period_dates(filters, today)
    unit = None
    if filters.unit_code:
        unit = await visible_unit(session, principal, filters.unit_code, Perm.DATA_READ)
    return ResolvedFilters(date_from, date_to, unit, filters.survey_id, filters.channel, filters.touchpoint)


async def _has_children(session: AsyncSession, unit: Unit) -> bool:
    found = await session.scalar(select(Unit.id).where(Unit.parent_id == unit.id).limit(1))
    return found is not None


def _drilled_groups(groups: list[str], unit: Unit | None) -> list[str]:
    """A unit level at or above the filtered unit shows the level just below it."""
    if unit is None:
        return groups
    out = []
    for group in groups:
        if group.startswith(UNIT_LEVEL):
            try:
                level = int(group.removeprefix(UNIT_LEVEL))
            except ValueError:
                level = -1
            if 0 <= level <= unit.depth:
                out.append(f"{UNIT_LEVEL}{unit.depth + 1}")
                continue
        out.append(group)
    return out


def widget_query(
    widget: Widget, filters: ResolvedFilters, *, group_by: list[str] | None = None
) -> dict[str, Any]:
    assert widget.query is not None
    query = widget.query
    body: dict[str, Any] = {"metrics": list(query.metrics)}
    merged = {**query.filters, **filters.as_query_filters()}
    if merged:
        body["filters"] = merged
    survey = filters.survey_id or query.survey_id
    if survey:
        body["survey_id"] = survey
    groups = group_by if group_by is not None else query.group_by
    if widget.drill:
        groups = _drilled_groups(groups, filters.unit)
    if groups:
        body["group_by"] = groups
    # A sparkline is the tile's own series: no comparison (and previous_period refuses time groups).
    if query.compare and group_by is None:
        body["compare"] = query.compare
    return body


async def _sparkline(
    session: AsyncSession, principal: Principal, widget: Widget, filters: ResolvedFilters
) -> list[dict[str, Any]]:
    """The tile's metric by its grain; a failure leaves the tile without a line, never without its number."""
    assert widget.sparkline is not None
    try:
        spark = await query_runner(
            session, principal, widget_query(widget, filters, group_by=[widget.sparkline])
        )
    except AppError as error:
        log.info("sparkline of %s: %s", widget.id, error.code)
        return []
    rows: list[dict[str, Any]] = spark.get("rows", [])
    return rows[:MAX_ROWS]


def _problem(error: AppError) -> dict[str, Any]:
    return error.to_problem()


async def _unit_names(
    session: AsyncSession, principal: Principal, rows: list[dict[str, Any]], locale: str
) -> None:
    """Unit names in the viewer's language, and whether a unit is a leaf (a click
    on it drills to its responses rather than to a level below)."""
    codes = {r["unit_code"] for r in rows if isinstance(r.get("unit_code"), str)}
    if not codes:
        return
    found = await session.execute(
        select(Unit.id, Unit.code, Unit.names, Unit.depth).where(
            Unit.tenant_id == principal.tenant_id, Unit.code.in_(codes)
        )
    )
    units = {code: (uid, names, depth) for uid, code, names, depth in found}
    parents = set(
        (
            await session.execute(
                select(Unit.parent_id).where(Unit.parent_id.in_([u[0] for u in units.values()])).distinct()
            )
        ).scalars()
    )
    for row in rows:
        known = units.get(row.get("unit_code"))  # type: ignore[arg-type]
        if known:
            uid, names, depth = known
            row["unit_name"] = display_name(names, locale)
            row["unit_depth"] = depth
            row["unit_leaf"] = uid not in parents


async def _open_cases(
    session: AsyncSession, principal: Principal, filters: ResolvedFilters
) -> dict[str, Any]:
    count = getattr(cases, "count_open_cases", None)
    if count is None:
        return {"rows": [], "meta": {"unavailable": True}}
    value = await count(session, principal, filters.unit.code if filters.unit else None)
    return {"rows": [{CASES_METRIC: int(value)}], "meta": {}}


def _in_scope(statement: Any, principal: Principal, filters: ResolvedFilters, survey_id: str | None) -> Any:
    """Complete responses the viewer may read, narrowed by the global filters."""
    reach = principal.reach(Perm.DATA_READ)
    statement = statement.outerjoin(Unit, Unit.id == Response.unit_id).where(
        Response.tenant_id == principal.tenant_id, Response.status == "complete"
    )
    if not reach.everywhere:
        statement = statement.where(reach.unit_clause(Unit.id, Unit.path))
    if filters.unit is not None:
        statement = statement.where(Unit.path.startswith(filters.unit.path))
    if survey_id:
        statement = statement.where(Response.survey_id == survey_id)
    if filters.channel:
        statement = statement.where(Response.channel == filters.channel)
    if filters.touchpoint:
        statement = statement.where(Response.touchpoint == filters.touchpoint)
    if filters.date_from:
        statement = statement.where(Response.submitted_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        statement = statement.where(Response.submitted_at < end)
    return statement


async def _drivers(
    session: AsyncSession, principal: Principal, widget: Widget, filters: ResolvedFilters
) -> dict[str, Any]:
    """Key drivers through analytics' ``run_drivers``: one survey, its rating questions."""
    assert widget.query is not None
    run = getattr(analytics, "run_drivers", None)
    model = getattr(analytics, "DriversQuery", None)
    if run is None or model is None:
        raise AnalyticsUnavailable("The key driver analysis is not installed.")
    outcome = widget.query.metrics[0]
    survey_id = filters.survey_id or widget.query.survey_id
    if not survey_id:
        # Drivers are per survey; with none chosen, the most answered survey in the
        # viewer's period and scope that has rating questions is the useful default.
        survey_id = await _busiest_survey_with_ratings(session, principal, widget, filters, outcome)
    if not survey_id:
        raise ValidationFailed(
            "Choose a survey to see its drivers.",
            code="survey_required",
            errors=[FieldError("survey_id", "Choose a survey to see its drivers.")],
        )
    names = list(widget.drivers) or await _rating_questions(session, principal, survey_id, outcome)
    body = {
        "survey_id": survey_id,
        "outcome": outcome,
        "drivers": names,
        "filters": {**widget.query.filters, **filters.as_query_filters()},
    }
    try:
        query = model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(
            "The widget's driver query is not valid.",
            code="invalid_widget_query",
            errors=[FieldError(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()],
        ) from exc
    result: dict[str, Any] = await run(session, principal, query)
    return {"rows": result.get("drivers", []), **{k: v for k, v in result.items() if k != "drivers"}}


async def _busiest_survey_with_ratings(
    session: AsyncSession, principal: Principal, widget: Widget, filters: ResolvedFilters, outcome: str
) -> str | None:
    assert widget.query is not None
    counted = await query_runner(
        session,
        principal,
        {
            "metrics": ["response_count"],
            "group_by": ["survey"],
            "filters": {**widget.query.filters, **filters.as_query_filters()},
        },
    )
    ranked = sorted(
        (row for row in counted.get("rows", []) if row.get("survey_id") and row.get("response_count")),
        key=lambda row: (-row["response_count"], row["survey_id"]),
    )
    for row in ranked[:5]:
        if await _rating_questions(session, principal, row["survey_id"], outcome):
            return str(row["survey_id"])
    return None


async def _rating_questions(
    session: AsyncSession, principal: Principal, survey_id: str, outcome: str
) -> list[str]:
    survey = await session.get(Survey, survey_id) if len(survey_id) <= 26 else None
    if survey is None or survey.tenant_id != principal.tenant_id or not survey.published_version:
        return []
    definition = await published_definition(session, survey.id, survey.published_version)
    if definition is None:
        return []
    return [q.id for _, q in definition.questions() if q.type in RATING_TYPES and q.type != outcome][:30]


async def comments(
    session: AsyncSession,
    principal: Principal,
    widget: Widget,
    filters: ResolvedFilters,
    *,
    search: str | None = None,
    score: str | None = None,
) -> dict[str, Any]:
    """Latest comments in scope, newest first, optionally matching ``search`` and an
    NPS band (``detractor``, ``passive``, ``promoter``) of the score question.

    Comments are the text domain's analyses: the text with personal data masked
    (phone numbers, emails, names), and its sentiment; an answer appears once the
    text pipeline has read it, in the same post-commit job that updates the rollups.
    """
    options = widget.comments
    limit = options.limit if options else 20
    wanted = list(options.question_ids) if options and options.question_ids else None
    score_question = options.score_question if options else None
    survey = filters.survey_id or (widget.query.survey_id if widget.query else None)
    statement = _in_scope(
        select(CommentAnalysis, Response.channel, Response.answers, Response.survey_version, Unit.code)
        .select_from(CommentAnalysis)
        .join(Response, Response.id == CommentAnalysis.response_id),
        principal,
        filters,
        survey,
    ).where(CommentAnalysis.tenant_id == principal.tenant_id)
    if wanted is not None:
        statement = statement.where(CommentAnalysis.question_id.in_(wanted))
    if search:
        statement = statement.where(searchable_text().contains(to_simplified(search), autoescape=True))
    statement = statement.order_by(
        Response.submitted_at.desc(), Response.id.desc(), CommentAnalysis.question_id
    ).limit(COMMENT_SCAN if score else limit)
    rows: list[dict[str, Any]] = []
    for analysis, channel, stored, version, unit_code in (await session.execute(statement)).all():
        answers = stored if isinstance(stored, dict) else {}
        if score_question:
            band = _band(answers.get(score_question))
        else:
            definition = await published_definition(session, analysis.survey_id or "", version)
            band = _band(_first_nps(definition, answers))
        if score and band != score:
            continue
        rows.append(
            {
                "response_id": analysis.response_id,
                "submitted_at": (analysis.submitted_at or utc_now()).isoformat(),
                "unit_code": unit_code,
                "channel": channel,
                "question_id": analysis.question_id,
                "text": analysis.masked_text[:MAX_COMMENT_CHARS],
                "sentiment": analysis.sentiment,
                "band": band,
            }
        )
        if len(rows) >= limit:
            break
    return {"rows": rows, "meta": {}}


def _first_nps(definition: Any, answers: dict[str, Any]) -> Any:
    if definition is None:
        return None
    for _, question in definition.questions():
        if question.type == "nps":
            return answers.get(question.id)
    return None


def _band(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value >= 9:
        return "promoter"
    return "passive" if value >= 7 else "detractor"


async def run_widget(
    session: AsyncSession,
    principal: Principal,
    widget: Widget,
    filters: ResolvedFilters,
    locale: str,
    *,
    search: str | None = None,
    score: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    try:
        if widget.type in COMMENT_WIDGETS:
            result = await comments(session, principal, widget, filters, search=search, score=score)
            if widget.type == "comment_explorer":
                await with_topics(session, principal, result["rows"])
        elif widget.type in TEXT_WIDGETS:
            result = await text_insight(session, principal, widget, widget_query(widget, filters))
        elif widget.query is not None and widget.query.metrics == [CASES_METRIC]:
            result = await _open_cases(session, principal, filters)
        elif widget.type == "driver_quadrant":
            result = await _drivers(session, principal, widget, filters)
        else:
            if widget.drill and filters.unit is not None and not await _has_children(session, filters.unit):
                meta["leaf"] = True
            body = widget_query(widget, filters)
            result = await query_runner(session, principal, body)
            if widget.type == "kpi" and widget.sparkline:
                meta["sparkline"] = await _sparkline(session, principal, widget, filters)
    except AppError as error:
        if error.status >= 500 and not isinstance(error, AnalyticsUnavailable):
            log.warning("widget %s failed: %s", widget.id, error.code)
        return {"rows": [], "meta": meta, "error": _problem(error)}
    rows = list(result.get("rows", []))
    if len(rows) > MAX_ROWS:
        meta["truncated"] = len(rows)
        rows = rows[:MAX_ROWS]
    await _unit_names(session, principal, rows, locale)
    meta.update(result.get("meta", {}) if isinstance(result.get("meta"), dict) else {})
    # The engine's notes (suppressed groups, pages, periods) travel with the rows.
    meta.update({k: v for k, v in result.items() if k in PASSED_META})
    if widget.target is not None:
        meta["target"] = widget.target
    return {"rows": rows, "meta": meta, "error": None}


async def dashboard_data(
    session: AsyncSession,
    principal: Principal,
    definition: DashboardDefinition,
    filters: DashboardFilters,
    locale: str,
    *,
    only: str | None = None,
    search: str | None = None,
    score: str | None = None,
) -> tuple[ResolvedFilters, dict[str, dict[str, Any]]]:
    principal.require(Perm.DATA_READ)
    resolved = await resolve_filters(session, principal, filters)
    results: dict[str, dict[str, Any]] = {}
    for widget in definition.widgets:
        if only is not None and widget.id != only:
            continue
        results[widget.id] = await run_widget(
            session, principal, widget, resolved, locale, search=search, score=score
        )
    return resolved, results


async def drill_responses(
    session: AsyncSession, principal: Principal, filters: ResolvedFilters, limit: int = 100
) -> list[dict[str, Any]]:
    """The responses at the bottom of a drill-down, newest first, within scope."""
    statement = _in_scope(
        select(Response.id, Response.submitted_at, Response.channel, Response.touchpoint, Unit.code),
        principal,
        filters,
        filters.survey_id,
    )
    statement = statement.order_by(Response.submitted_at.desc(), Response.id.desc()).limit(limit)
    return [
        {
            "response_id": rid,
            "submitted_at": at.isoformat(),
            "channel": channel,
            "touchpoint": touchpoint,
            "unit_code": code,
        }
        for rid, at, channel, touchpoint, code in (await session.execute(statement)).all()
    ]
