"""The alerts API: rules (with a dry run), alerts and their volume, notification
channels and the notification log, webhooks and their delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cxloop.alerts import manage
from cxloop.alerts.schemas import (
    AlertOut,
    AlertPage,
    ChannelCreate,
    ChannelOut,
    ChannelPage,
    DeliveryOut,
    DeliveryPage,
    DryRunIn,
    DryRunOut,
    NotificationOut,
    NotificationPage,
    RuleCreate,
    RuleOut,
    RulePage,
    RuleUpdate,
    VolumeOut,
    VolumeRow,
    WebhookCreate,
    WebhookOut,
    WebhookPage,
)
from cxloop.alerts.service import create_rule, get_rule, list_rules, update_rule
from cxloop.alerts.webhooks import redeliver
from cxloop.identity import CurrentPrincipal
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", tags=["alerts"], route_class=TransactionalRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
IdQuery = Annotated[str | None, Query(max_length=26)]


def _replayed(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Replayed by Idempotency-Key"}}


@router.post(
    "/alert-rules",
    status_code=201,
    response_model=RuleOut,
    summary="Create an alert rule (response or metric)",
    responses=_replayed(RuleOut),
)
async def post_rule(
    request: Request, body: RuleCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        row = await create_rule(session, principal, body.name, body.definition, body.enabled)
        return RuleOut.of(row).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get("/alert-rules", response_model=RulePage, summary="Alert rules")
async def get_rules(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Literal["response", "metric"] | None = None,
    enabled: bool | None = None,
) -> RulePage:
    page = await list_rules(session, principal, PageRequest(limit=limit, cursor=cursor), kind, enabled)
    return RulePage(items=[RuleOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/alert-rules/dry-run", response_model=DryRunOut, summary="How often a rule would have fired")
async def post_dry_run(body: DryRunIn, session: DbSession, principal: CurrentPrincipal) -> DryRunOut:
    result = await manage.dry_run(session, principal, body.definition, body.rule_id, body.days, body.limit)
    return DryRunOut(**result)


@router.get("/alert-rules/{rule_id}", response_model=RuleOut, summary="One alert rule")
async def get_one_rule(rule_id: str, session: DbSession, principal: CurrentPrincipal) -> RuleOut:
    return RuleOut.of(await get_rule(session, principal, rule_id))


@router.patch("/alert-rules/{rule_id}", response_model=RuleOut, summary="Change a rule (its version grows)")
async def patch_rule(
    rule_id: str, body: RuleUpdate, session: DbSession, principal: CurrentPrincipal
) -> RuleOut:
    row = await update_rule(
        session, principal, rule_id, name=body.name, raw=body.definition, enabled=body.enabled
    )
    return RuleOut.of(row)


@router.post("/alert-rules/{rule_id}/enable", response_model=RuleOut, summary="Enable a rule")
async def enable_rule(rule_id: str, session: DbSession, principal: CurrentPrincipal) -> RuleOut:
    return RuleOut.of(await update_rule(session, principal, rule_id, name=None, raw=None, enabled=True))


@router.post("/alert-rules/{rule_id}/disable", response_model=RuleOut, summary="Disable a rule")
async def disable_rule(rule_id: str, session: DbSession, principal: CurrentPrincipal) -> RuleOut:
    return RuleOut.of(await update_rule(session, principal, rule_id, name=None, raw=None, enabled=False))


@router.get("/alerts", response_model=AlertPage, summary="Alerts in my scope, newest first")
async def get_alerts(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    rule_id: IdQuery = None,
    kind: Literal["response", "metric"] | None = None,
    response_id: IdQuery = None,
) -> AlertPage:
    page = await manage.list_alerts(
        session,
        principal,
        PageRequest(limit=limit, cursor=cursor),
        rule_id=rule_id,
        kind=kind,
        response_id=response_id,
    )
    return AlertPage(items=[AlertOut.of(a, code) for a, code in page.items], next_cursor=page.next_cursor)


@router.get("/alerts/volume", response_model=VolumeOut, summary="Alert volume per day and rule")
async def get_volume(
    session: DbSession, principal: CurrentPrincipal, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> VolumeOut:
    rows = await manage.alert_volume(session, principal, days)
    return VolumeOut(days=days, total=sum(r["alerts"] for r in rows), rows=[VolumeRow(**r) for r in rows])


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert")
async def get_one_alert(alert_id: str, session: DbSession, principal: CurrentPrincipal) -> AlertOut:
    alert, code = await manage.get_alert(session, principal, alert_id)
    return AlertOut.of(alert, code)


@router.post(
    "/alert-channels",
    status_code=201,
    response_model=ChannelOut,
    summary="A notification channel (apprise URL, SMS gateway, email list)",
    responses=_replayed(ChannelOut),
)
async def post_channel(
    request: Request, body: ChannelCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        row = await manage.create_channel(
            session, principal, body.name, body.kind, body.config, body.language
        )
        return ChannelOut.of(row).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get("/alert-channels", response_model=ChannelPage, summary="Notification channels")
async def get_channels(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> ChannelPage:
    page = await manage.list_channels(session, principal, PageRequest(limit=limit, cursor=cursor))
    return ChannelPage(items=[ChannelOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/alert-notifications", response_model=NotificationPage, summary="The notification log")
async def get_notifications(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    alert_id: IdQuery = None,
) -> NotificationPage:
    page = await manage.list_notifications(
        session, principal, PageRequest(limit=limit, cursor=cursor), alert_id
    )
    return NotificationPage(
        items=[NotificationOut.of(n, n.recipient) for n in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookOut,
    summary="Subscribe a URL to events; deliveries are signed with the secret",
    responses=_replayed(WebhookOut),
)
async def post_webhook(
    request: Request, body: WebhookCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        row, secret = await manage.create_webhook(
            session, principal, body.url, list(body.events), body.secret
        )
        return WebhookOut.of(row, secret=secret).model_dump(mode="json")

    # The secret is shown once: the stored answer (and so a replay) lacks it, so it is
    # never kept in clear in the idempotency table.
    return await idempotent(
        request,
        session,
        principal.idempotency_owner,
        body.model_dump(mode="json"),
        create,
        keep=lambda created: {**created, "secret": None},
    )


@router.get("/webhooks", response_model=WebhookPage, summary="Webhooks")
async def get_webhooks(
    session: DbSession, principal: CurrentPrincipal, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> WebhookPage:
    page = await manage.list_webhooks(session, principal, PageRequest(limit=limit, cursor=cursor))
    return WebhookPage(items=[WebhookOut.of(w) for w in page.items], next_cursor=page.next_cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="One webhook (without its secret)")
async def get_one_webhook(webhook_id: str, session: DbSession, principal: CurrentPrincipal) -> WebhookOut:
    return WebhookOut.of(await manage.get_webhook(session, principal, webhook_id))


@router.post("/webhooks/{webhook_id}/disable", response_model=WebhookOut, summary="Stop sending to a webhook")
async def disable_webhook(webhook_id: str, session: DbSession, principal: CurrentPrincipal) -> WebhookOut:
    return WebhookOut.of(await manage.set_webhook_enabled(session, principal, webhook_id, False))


@router.post("/webhooks/{webhook_id}/enable", response_model=WebhookOut, summary="Send to a webhook again")
async def enable_webhook(webhook_id: str, session: DbSession, principal: CurrentPrincipal) -> WebhookOut:
    return WebhookOut.of(await manage.set_webhook_enabled(session, principal, webhook_id, True))


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage, summary="The delivery log, newest first"
)
async def get_deliveries(
    webhook_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Literal["pending", "delivered", "dead"] | None = None,
) -> DeliveryPage:
    page = await manage.list_deliveries(
        session, principal, webhook_id, PageRequest(limit=limit, cursor=cursor), status
    )
    return DeliveryPage(items=[DeliveryOut.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Send a delivery again, with the same delivery id",
)
async def post_redeliver(
    webhook_id: str, delivery_id: str, session: DbSession, principal: CurrentPrincipal
) -> DeliveryOut:
    delivery = await manage.get_delivery(session, principal, webhook_id, delivery_id)
    await redeliver(session, delivery)
    return DeliveryOut.of(delivery)
