"""The dashboards API: definitions (CRUD, sharing, role defaults), their data,
exports and scheduled reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from cxloop.dashboards.data import dashboard_data, drill_responses, resolve_filters
from cxloop.dashboards.exports import rows_to_csv, rows_to_xlsx
from cxloop.dashboards.models import ReportSchedule
from cxloop.dashboards.reports import MEDIA, render_report, widget_title
from cxloop.dashboards.reports import create_schedule as make_schedule
from cxloop.dashboards.reports import delete_schedule as drop_schedule
from cxloop.dashboards.reports import list_schedules as find_schedules
from cxloop.dashboards.schemas import (
    DashboardCreate,
    DashboardData,
    DashboardFilters,
    DashboardOut,
    DashboardPage,
    DashboardUpdate,
    ScheduleCreate,
    ScheduleOut,
    SchedulePage,
    WidgetResult,
)
from cxloop.dashboards.service import (
    DashboardView,
    create_dashboard,
    delete_dashboard,
    list_dashboards,
    resolve,
    update_dashboard,
)
from cxloop.identity import CurrentPrincipal, Principal
from cxloop.kit.errors import FieldError, ValidationFailed, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", tags=["dashboards"], route_class=TransactionalRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Short = Annotated[str | None, Query(max_length=80)]
DRILL_COLUMNS = ("response_id", "submitted_at", "channel", "touchpoint", "unit_code")
CREATED: dict[int | str, dict[str, Any]] = {
    200: {"model": DashboardOut, "description": "Replayed by Idempotency-Key"}
}


def locale_of(request: Request, principal: Principal) -> str:
    return principal.locale or getattr(request.state, "locale", None) or "zh-CN"


def filters_for(view: DashboardView, given: dict[str, Any]) -> DashboardFilters:
    """The dashboard's saved filters, overridden by what the request gives."""
    values = {k: v for k, v in given.items() if v is not None}
    if values.get("date_from") or values.get("date_to"):
        values.setdefault("period", "custom")
    base = view.definition.filters.model_dump(exclude_none=True)
    try:
        return DashboardFilters.model_validate({**base, **values})
    except ValidationError as exc:
        raise ValidationFailed(
            "The filters are not valid.",
            code="invalid_filters",
            errors=[
                FieldError(".".join(str(p) for p in e["loc"]) or "filters", e["msg"]) for e in exc.errors()
            ],
        ) from exc


class FilterParams:
    """The global filters as query parameters (shared by data, exports and drill-down)."""

    def __init__(
        self,
        period: Annotated[Literal["7d", "30d", "90d", "12m", "ytd", "all", "custom"] | None, Query()] = None,
        date_from: Annotated[str | None, Query(max_length=10)] = None,
        date_to: Annotated[str | None, Query(max_length=10)] = None,
        unit_code: Short = None,
        survey_id: Short = None,
        channel: Short = None,
        touchpoint: Short = None,
    ) -> None:
        self.values: dict[str, Any] = {
            "period": period,
            "date_from": date_from,
            "date_to": date_to,
            "unit_code": unit_code,
            "survey_id": survey_id,
            "channel": channel,
            "touchpoint": touchpoint,
        }


Filters = Annotated[FilterParams, Depends()]


@router.get("/dashboards", response_model=DashboardPage, summary="My dashboards and those shared with me")
async def get_dashboards(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> DashboardPage:
    page = await list_dashboards(session, principal, PageRequest(limit=limit, cursor=cursor))
    return DashboardPage(items=[v.out() for v in page.items], next_cursor=page.next_cursor)


@router.post(
    "/dashboards", status_code=201, response_model=DashboardOut, summary="Save a dashboard", responses=CREATED
)
async def post_dashboard(
    request: Request, body: DashboardCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        return (await create_dashboard(session, principal, body)).out().model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get(
    "/dashboards/{dashboard_id}",
    response_model=DashboardOut,
    summary="One dashboard; `default` is the caller's role default",
)
async def get_one(
    request: Request,
    dashboard_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    role: Annotated[Literal["executive", "regional", "store", "analyst"] | None, Query()] = None,
) -> DashboardOut:
    return (await resolve(session, principal, dashboard_id, role, locale_of(request, principal))).out()


@router.patch("/dashboards/{dashboard_id}", response_model=DashboardOut, summary="Change my dashboard")
async def patch_dashboard(
    dashboard_id: str, body: DashboardUpdate, session: DbSession, principal: CurrentPrincipal
) -> DashboardOut:
    return (await update_dashboard(session, principal, dashboard_id, body)).out()


@router.delete("/dashboards/{dashboard_id}", status_code=204, summary="Delete my dashboard")
async def remove_dashboard(dashboard_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    await delete_dashboard(session, principal, dashboard_id)
    return Response(status_code=204)


@router.get(
    "/dashboards/{dashboard_id}/data",
    response_model=DashboardData,
    summary="Every widget's data, as the caller sees it, under the global filters",
)
async def get_data(
    request: Request,
    dashboard_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    filters: Filters,
    role: Annotated[Literal["executive", "regional", "store", "analyst"] | None, Query()] = None,
    widget: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Comment lists: text to find")] = None,
    score: Annotated[Literal["detractor", "passive", "promoter"] | None, Query()] = None,
) -> DashboardData:
    view = await resolve(session, principal, dashboard_id, role, locale_of(request, principal))
    if widget is not None and all(w.id != widget for w in view.definition.widgets):
        raise not_found("widget")
    resolved, results = await dashboard_data(
        session,
        principal,
        view.definition,
        filters_for(view, filters.values),
        locale_of(request, principal),
        only=widget,
        search=q,
        score=score,
    )
    return DashboardData(
        dashboard_id=view.id,
        filters=resolved.public(),
        widgets={k: WidgetResult(**v) for k, v in results.items()},
    )


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/dashboards/{dashboard_id}/widgets/{widget_id}/export",
    summary="One widget's rows as CSV or XLSX",
    response_class=Response,
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}}},
)
async def export_widget(
    request: Request,
    dashboard_id: str,
    widget_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    filters: Filters,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    role: Annotated[Literal["executive", "regional", "store", "analyst"] | None, Query()] = None,
) -> Response:
    view = await resolve(session, principal, dashboard_id, role, locale_of(request, principal))
    widget = next((w for w in view.definition.widgets if w.id == widget_id), None)
    if widget is None:
        raise not_found("widget")
    locale = locale_of(request, principal)
    _, results = await dashboard_data(
        session, principal, view.definition, filters_for(view, filters.values), locale, only=widget_id
    )
    result = results[widget_id]
    if result["error"]:
        error = result["error"]
        raise ValidationFailed(error["detail"], code=error["code"], status=error["status"])
    rows = result["rows"]
    name = f"{view.id}-{widget_id}.{format}"
    if format == "xlsx":
        content = await anyio.to_thread.run_sync(rows_to_xlsx, [(widget_title(widget, locale), rows)])
        return _download(content, MEDIA["xlsx"], name)
    return _download(rows_to_csv(rows), MEDIA["csv"], name)


@router.get(
    "/dashboards/{dashboard_id}/report",
    summary="The whole dashboard as a PDF (or XLSX, one sheet per widget)",
    response_class=Response,
    responses={200: {"content": {MEDIA["pdf"]: {}, MEDIA["xlsx"]: {}}}},
)
async def export_report(
    request: Request,
    dashboard_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    filters: Filters,
    format: Annotated[Literal["pdf", "xlsx"], Query()] = "pdf",
    role: Annotated[Literal["executive", "regional", "store", "analyst"] | None, Query()] = None,
) -> Response:
    view = await resolve(session, principal, dashboard_id, role, locale_of(request, principal))
    rendered = await render_report(
        session, principal, view, filters_for(view, filters.values), locale_of(request, principal), format
    )
    return _download(rendered.content, rendered.media_type, rendered.filename)


@router.get(
    "/dashboards/drill/responses",
    summary="The responses at the bottom of a drill-down (JSON, or CSV with format=csv)",
    response_model=dict[str, Any],
    responses={200: {"content": {"application/json": {}, MEDIA["csv"]: {}}}},
)
async def get_drill_responses(
    session: DbSession,
    principal: CurrentPrincipal,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    try:
        parsed = DashboardFilters.model_validate({k: v for k, v in filters.values.items() if v is not None})
    except ValidationError as exc:
        raise ValidationFailed(
            "The filters are not valid.",
            code="invalid_filters",
            errors=[
                FieldError(".".join(str(p) for p in e["loc"]) or "filters", e["msg"]) for e in exc.errors()
            ],
        ) from exc
    resolved = await resolve_filters(session, principal, parsed)
    rows = await drill_responses(session, principal, resolved, limit)
    if format == "csv":
        return _download(rows_to_csv(rows, DRILL_COLUMNS), MEDIA["csv"], "responses.csv")
    return JSONResponse({"filters": resolved.public(), "items": rows})


# --- scheduled reports ------------------------------------------------------------


def _schedule_out(row: ReportSchedule) -> ScheduleOut:
    return ScheduleOut(
        id=row.id,
        recipient_id=row.recipient_id,
        dashboard_id=row.dashboard_id,
        frequency=row.frequency,
        format=row.format,
        hour_utc=row.hour_utc,
        active=row.active,
        next_run_at=row.next_run_at,
        last_sent_at=row.last_sent_at,
    )


@router.post(
    "/report-schedules",
    status_code=201,
    response_model=ScheduleOut,
    summary="Mail a dashboard to a person daily, weekly or monthly, with their own scope's data",
)
async def post_schedule(
    request: Request, body: ScheduleCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        return _schedule_out(await make_schedule(session, principal, body)).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get("/report-schedules", response_model=SchedulePage, summary="Report schedules I set up or receive")
async def get_schedules(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> SchedulePage:
    page = await find_schedules(session, principal, PageRequest(limit=limit, cursor=cursor))
    return SchedulePage(items=[_schedule_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.delete("/report-schedules/{schedule_id}", status_code=204, summary="Stop a report schedule")
async def remove_schedule(schedule_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    await drop_schedule(session, principal, schedule_id)
    return Response(status_code=204)
