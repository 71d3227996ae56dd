"""The analytics API: metrics queries, key drivers, targets and settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from cxloop.analytics.query import run_metrics_query
from cxloop.analytics.schemas import AnalyticsSettingsIn, DriversQuery, MetricsQuery, TargetIn
from cxloop.analytics.service import (
    delete_target,
    get_settings_view,
    list_targets,
    put_settings,
    run_drivers,
    set_target,
)
from cxloop.identity import CurrentPrincipal
from cxloop.kit.http import PROBLEM_RESPONSES, DbSession, LazySession, TransactionalRoute, refuse_nul_in_url

log = logging.getLogger("cxloop.analytics")

router = APIRouter(prefix="/api/v1", tags=["analytics"], route_class=TransactionalRoute)


class ReadingRoute(APIRoute):
    """A POST that only reads (its body is a query): a read session that is
    never committed, so on SQLite it takes no write lock."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Errors are problem+json here too; the schema says so, as for every other route.
        kwargs["responses"] = {**PROBLEM_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            refuse_nul_in_url(request)
            lazy = LazySession(request.app.state.db, write=False)
            request.state.lazy_session = lazy
            try:
                response = await inner(request)
            finally:
                await lazy.abandon()
            # Bookkeeping the caller's credential asked for (a token's last use), as TransactionalRoute does.
            db = request.app.state.db
            for hook in getattr(request.state, "after_request", []):
                try:
                    async with db.session(write=True) as follow_up:
                        await hook(follow_up)
                        await follow_up.commit()
                except Exception:
                    log.exception("after-request hook failed")
            return response

        return handler


reading = APIRouter(tags=["analytics"], route_class=ReadingRoute)


@reading.post("/metrics/query", summary="Metrics (NPS, CSAT, CES, ...) by group, compared and tested")
async def post_metrics_query(
    body: MetricsQuery, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await run_metrics_query(session, principal, body)


@reading.post("/metrics/drivers", summary="Key drivers of NPS or satisfaction (Shapley / relative weights)")
async def post_drivers(body: DriversQuery, session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return await run_drivers(session, principal, body)


@router.get("/metrics/targets", summary="Targets per unit and metric, within scope")
async def get_targets(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": await list_targets(session, principal)}


@router.put("/metrics/targets", summary="Set the target of one metric for a unit (or the tenant)")
async def put_target(body: TargetIn, session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return await set_target(session, principal, body)


@router.delete("/metrics/targets/{target_id}", status_code=204, summary="Remove a target")
async def remove_target(target_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    await delete_target(session, principal, target_id)
    return Response(status_code=204)


@router.get("/metrics/settings", summary="The tenant's analytics settings (anonymity threshold)")
async def get_analytics_settings(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return await get_settings_view(session, principal)


@router.put("/metrics/settings", summary="Change the tenant's anonymity threshold")
async def put_analytics_settings(
    body: AnalyticsSettingsIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await put_settings(session, principal, body)


router.include_router(reading)
