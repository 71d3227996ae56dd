"""Dashboard pages: the viewer's dashboard (their latest saved one, else their
role default), any visible dashboard by id, and the responses at the bottom of
a drill-down.

The server runs every widget's query and renders KPI tiles, tables and
comment lists, so the page is useful without scripts; dashboards.js draws the
charts with ECharts from the same data (embedded as JSON), drills down on a
click, and edits the layout (add, move, resize, remove) and saves it through
the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.dashboards.data import dashboard_data, drill_responses, resolve_filters
from cxloop.dashboards.reports import widget_title
from cxloop.dashboards.schemas import TIME_GRAINS, WIDGET_TYPES, DashboardFilters
from cxloop.dashboards.service import DashboardView, latest_own, list_dashboards, resolve
from cxloop.identity import Perm, Principal, Unit, display_name
from cxloop.identity.units import list_units
from cxloop.kit.errors import AppError, NotFound
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.numbers import ascii_digits
from cxloop.kit.pagination import MAX_LIMIT, PageRequest
from cxloop.surveys import Survey, SurveyVersion, text_in
from cxloop.text.service import correct_topic
from cxloop.text.taxonomy import all_topics, paths, tenant_locale
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, languages, render, request_locale, see_other
from cxloop.web.pages.text import SENTIMENT_LABELS, highlight

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# A unit picker beyond this many units is cut (the API takes any code).
MAX_PICKER_UNITS = 2000
MAX_PICKER_SURVEYS = 200
# The rollups follow new responses within seconds; a page in sight follows them this often.
REFRESH_SECONDS = 15
FILTER_FIELDS = ("period", "date_from", "date_to", "unit_code", "survey_id", "channel", "touchpoint")
PERIOD_LABELS = {
    "7d": N_("Last 7 days"),
    "30d": N_("Last 30 days"),
    "90d": N_("Last 90 days"),
    "12m": N_("Last 12 months"),
    "ytd": N_("This year"),
    "all": N_("All time"),
    "custom": N_("Custom dates"),
}
TYPE_LABELS = {
    "kpi": N_("KPI tile"),
    "trend": N_("Trend line"),
    "bar": N_("Bar by segment"),
    "ranking": N_("Ranking"),
    "heatmap": N_("Heatmap (unit × month)"),
    "distribution": N_("Distribution"),
    "driver_quadrant": N_("Driver quadrant"),
    "comments": N_("Comment list"),
    "funnel": N_("Response funnel"),
    "topic_trend": N_("Topic volume and sentiment"),
    "topic_impact": N_("Topic impact on NPS"),
    "rising_phrases": N_("Rising phrases"),
    "comment_explorer": N_("Comment explorer"),
}
assert set(TYPE_LABELS) == set(WIDGET_TYPES), "every widget type needs a label"
BAND_LABELS = {"detractor": N_("Detractors"), "passive": N_("Passives"), "promoter": N_("Promoters")}
ROLE_LABELS = {
    "executive": N_("Executive"),
    "regional": N_("Regional manager"),
    "store": N_("Store manager"),
    "analyst": N_("Analyst"),
}
# Texts the script shows, translated on the server (the script has no catalog).
SCRIPT_TEXTS = {
    "customise": N_("Customise"),
    "done": N_("Done"),
    "save": N_("Save"),
    "save_copy": N_("Save as my dashboard"),
    "saved": N_("Saved."),
    "save_failed": N_("Could not save: %(reason)s"),
    "remove": N_("Remove"),
    "left": N_("Move left"),
    "right": N_("Move right"),
    "up": N_("Move up"),
    "down": N_("Move down"),
    "wider": N_("Wider"),
    "narrower": N_("Narrower"),
    "taller": N_("Taller"),
    "shorter": N_("Shorter"),
    "add": N_("Add widget"),
    "name": N_("Name"),
    "share": N_("Share within my units"),
    "reload": N_("Reload to see the new widget's data."),
    "target": N_("Target"),
    "company": N_("Comparison"),
    "compare_company": N_("Company"),
    "compare_previous_period": N_("Previous period"),
    "compare_last_year": N_("Last year"),
    "compare_parent_unit": N_("Parent unit"),
    "compare_target": N_("Target"),
    "no_data": N_("No data"),
    "importance": N_("Importance"),
    "performance": N_("Performance"),
    "invitations": N_("Invitations"),
    "responses": N_("Responses"),
    "promoters": N_("Promoters"),
    "passives": N_("Passives"),
    "detractors": N_("Detractors"),
    "mentions": N_("Mentions"),
    "net_sentiment": N_("Net sentiment"),
    "points": N_("NPS points"),
    "growth": N_("Growth (points)"),
}


def _refresh_seconds(request: Request) -> int:
    """How often the script fetches the data again (``?refresh=`` seconds, 2 to 600)."""
    given = request.query_params.get("refresh", "")
    seconds = int(given) if ascii_digits(given, 6) else REFRESH_SECONDS
    return max(2, min(600, seconds))


def _given_filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    values: dict[str, Any] = {k: params.get(k) or None for k in FILTER_FIELDS}
    if values.get("period") != "custom" and not (values.get("date_from") or values.get("date_to")):
        values.pop("date_from")
        values.pop("date_to")
    elif values.get("date_from") or values.get("date_to"):
        values["period"] = "custom"
    return {k: v for k, v in values.items() if v is not None}


def _filters_for(view: DashboardView, given: dict[str, Any]) -> tuple[DashboardFilters, list[str]]:
    """The saved filters overridden by the form's; invalid fields are dropped and reported."""
    base = view.definition.filters.model_dump(exclude_none=True)
    try:
        return DashboardFilters.model_validate({**base, **given}), []
    except ValidationError as exc:
        # A model-level error (dates reversed) names no field: it is the dates'.
        bad = {str(e["loc"][0]) if e["loc"] else "date_from" for e in exc.errors()}
        if bad & {"date_from", "date_to"}:
            bad |= {"date_from", "date_to", "period"}
    kept = {k: v for k, v in given.items() if k not in bad}
    try:
        return DashboardFilters.model_validate({**base, **kept}), sorted(bad)
    except ValidationError:
        return DashboardFilters(), sorted(bad)


async def _units(session: AsyncSession, principal: Principal, locale: str) -> list[dict[str, Any]]:
    units: list[Unit] = []
    cursor: str | None = None
    while len(units) < MAX_PICKER_UNITS:
        page = await list_units(session, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor))
        units.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    # Indented by depth, in tree order (a path sorts under its parent's).
    units.sort(key=lambda u: u.path)
    return [
        {"code": u.code, "label": "\u00a0\u00a0" * u.depth + display_name(u.names, locale)} for u in units
    ]


async def _surveys(session: AsyncSession, principal: Principal, locale: str) -> list[dict[str, str]]:
    found = await session.execute(
        select(Survey.id, SurveyVersion.definition)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Survey.id) & (SurveyVersion.version == Survey.published_version),
        )
        .where(Survey.tenant_id == principal.tenant_id)
        .order_by(Survey.id.desc())
        .limit(MAX_PICKER_SURVEYS)
    )
    out = []
    for survey_id, definition in found:
        title = definition.get("title") if isinstance(definition, dict) else None
        language = definition.get("default_language", "zh-CN") if isinstance(definition, dict) else "zh-CN"
        out.append({"id": survey_id, "title": text_in(title, locale, language) or survey_id})
    return out


def _kpi_value(widget: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    metric = widget.query.metrics[0] if widget.query else None
    row = rows[0] if rows else {}
    return {
        "metric": metric,
        "value": row.get(metric) if metric else None,
        "delta": row.get("delta"),
        "compare_value": row.get("compare_value"),
        "significant": row.get("significant"),
        "n": row.get("n"),
    }


def _table(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns worth showing in the fallback table: plain values only."""
    columns: dict[str, None] = {}
    for row in rows[:50]:
        for key, value in row.items():
            if key in ("unit_depth", "unit_leaf", "compare") or isinstance(value, dict | list):
                continue
            columns.setdefault(key, None)
    return list(columns), rows[:50]


async def _page(
    request: Request, session: AsyncSession, principal: Principal, view: DashboardView, role: str | None
) -> Response:
    locale = request_locale(request, principal)
    filters, bad_filters = _filters_for(view, _given_filters(request))
    search = (request.query_params.get("q") or "")[:200] or None
    score = request.query_params.get("score")
    score = score if score in BAND_LABELS else None
    status = 200
    try:
        resolved, results = await dashboard_data(
            session, principal, view.definition, filters, locale, search=search, score=score
        )
    except NotFound:
        # A unit outside the viewer's scope is dropped, as if it were not asked for.
        filters = filters.model_copy(update={"unit_code": None})
        bad_filters = sorted({*bad_filters, "unit_code"})
        resolved, results = await dashboard_data(
            session, principal, view.definition, filters, locale, search=search, score=score
        )
    widgets = []
    topic_choices: list[tuple[str, str]] = []
    if any(w.type == "comment_explorer" for w in view.definition.widgets):
        topics = await all_topics(session, principal.tenant_id)
        named = paths(topics, await tenant_locale(session, principal.tenant_id))
        topic_choices = sorted(((named[t.id], t.id) for t in topics), key=lambda pair: pair[0])
    for widget in view.definition.widgets:
        result = results[widget.id]
        if widget.type == "comment_explorer":
            for row in result["rows"]:
                # The words that matched a topic, and what the viewer searched for.
                words = [*(row.get("matched") or []), *([search] if search else [])]
                row["pieces"] = highlight(row.get("text") or "", words)
        columns, table_rows = _table(result["rows"])
        widgets.append(
            {
                "w": widget,
                "title": widget_title(widget, locale),
                "result": result,
                "kpi": _kpi_value(widget, result["rows"]) if widget.type == "kpi" else None,
                "columns": columns,
                "rows": table_rows,
            }
        )
    listed = await list_dashboards(session, principal, PageRequest(limit=100))
    query = urlencode(resolved.public())
    state = {
        "id": view.id,
        "owned": view.owned,
        "revision": view.row.revision if view.row else None,
        "role": role,
        "name": view.name,
        "locale": locale,
        "definition": view.definition.model_dump(mode="json", exclude_none=True),
        "filters": resolved.public(),
        "data": results,
        "texts": {k: languages_text(request, locale, v) for k, v in SCRIPT_TEXTS.items()},
        "types": {k: languages_text(request, locale, v) for k, v in TYPE_LABELS.items()},
        "grains": list(TIME_GRAINS),
        "refresh": _refresh_seconds(request),
    }
    return render(
        request,
        "dashboards/view.html",
        {
            "view": view,
            "widgets": widgets,
            "state": state,
            "filters": filters,
            "resolved": resolved.public(),
            "bad_filters": bad_filters,
            "units": await _units(session, principal, locale),
            "surveys": await _surveys(session, principal, locale),
            "periods": PERIOD_LABELS,
            "bands": BAND_LABELS,
            "role_labels_dash": ROLE_LABELS,
            "role": role or view.role_default,
            "listed": listed.items,
            "query": query,
            "search": search or "",
            "score": score or "",
            "topic_choices": topic_choices,
            "sentiment_labels": SENTIMENT_LABELS,
            "can_correct": principal.can(Perm.DATA_WRITE),
        },
        principal=principal,
        status=status,
    )


def languages_text(request: Request, locale: str, message: str) -> str:
    return languages(request).gettext(locale, message)


@router.get("/dashboards")
async def my_dashboard(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    role = request.query_params.get("role")
    view = None if role else await latest_own(session, principal)
    if view is None:
        view = await resolve(
            session,
            principal,
            "default",
            role if role in ROLE_LABELS else None,
            request_locale(request, principal),
        )
    return await _page(request, session, principal, view, role if role in ROLE_LABELS else None)


@router.get("/dashboards/responses")
async def responses_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    """The bottom of a drill-down: the responses of one unit (and the filters)."""
    locale = request_locale(request, principal)
    given = _given_filters(request)
    try:
        filters = DashboardFilters.model_validate(given)
    except ValidationError:
        # Keep the unit when only the other filters are bad; a bad unit code too means the whole scope.
        try:
            filters = DashboardFilters.model_validate({"unit_code": given.get("unit_code")})
        except ValidationError:
            filters = DashboardFilters()
    try:
        resolved = await resolve_filters(session, principal, filters)
    except AppError:
        resolved = await resolve_filters(session, principal, DashboardFilters())
    items = await drill_responses(session, principal, resolved, 200)
    unit_name = display_name(resolved.unit.names, locale) if resolved.unit else None
    query = urlencode(resolved.public())
    return render(
        request,
        "dashboards/responses.html",
        {"items": items, "unit_name": unit_name, "resolved": resolved.public(), "query": query},
        principal=principal,
    )


@router.post("/dashboards/corrections")
async def correction_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    """The comment explorer's one-click correction: the text domain's, then back to the dashboard."""
    form = await request.form()
    if not form_csrf_ok(request, form):
        return render(
            request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
        )
    back = str(form.get("back") or "/dashboards")
    back = back if back.startswith("/dashboards") and "//" not in back else "/dashboards"
    try:
        await correct_topic(
            session,
            principal,
            str(form.get("response_id") or "")[:26],
            str(form.get("question_id") or "")[:64],
            str(form.get("topic_id") or "")[:26],
            str(form.get("applies") or "") == "yes",
        )
    except AppError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return see_other(back + ("&" if "?" in back else "?") + "corrected=0")
    return see_other(back)


@router.get("/dashboards/{dashboard_id}")
async def one_dashboard(
    request: Request, dashboard_id: str, session: DbSession, principal: SignedIn
) -> Response:
    role = request.query_params.get("role")
    role = role if role in ROLE_LABELS else None
    view = await resolve(session, principal, dashboard_id, role, request_locale(request, principal))
    return await _page(request, session, principal, view, role)
