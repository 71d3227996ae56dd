"""Reading alerts (scoped), alert volume, the dry run, channels and webhooks.

Alerts belong to units: a caller sees those in its ``data.read`` reach; an alert
without a unit only tenant-wide callers see. Channels and webhooks are configuration
(``config.write``), since they hold addresses, robot keys and secrets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.alerts.channels import check_channel_config, seal_config
from cxloop.alerts.models import Alert, AlertRule, Notification, NotificationChannel, Webhook, WebhookDelivery
from cxloop.alerts.responses import subject_for
from cxloop.alerts.rules import ResponseRule, parse_rule
from cxloop.alerts.service import TenantConfig, bump_config, check_units, compile_rows, get_rule
from cxloop.alerts.targets import target_refusal
from cxloop.alerts.webhooks import new_secret, seal_secret
from cxloop.collection import Response
from cxloop.identity import Actor, Perm, Principal, Unit, record
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, ValidationFailed, invalid, not_found
from cxloop.kit.ids import is_id, new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page


def _scoped_alerts(principal: Principal) -> Any:
    reach = principal.reach(Perm.DATA_READ)
    query = select(Alert, Unit.code).outerjoin(Unit, Unit.id == Alert.unit_id)
    query = query.where(Alert.tenant_id == principal.tenant_id)
    if not reach.everywhere:
        query = query.where(Alert.unit_id.is_not(None), reach.unit_clause(Unit.id, Unit.path))
    return query


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    rule_id: str | None = None,
    kind: str | None = None,
    response_id: str | None = None,
) -> Page[tuple[Alert, str | None]]:
    principal.require(Perm.DATA_READ)
    query = _scoped_alerts(principal)
    if rule_id:
        query = query.where(Alert.rule_id == rule_id)
    if kind:
        query = query.where(Alert.kind == kind)
    if response_id:
        query = query.where(Alert.response_id == response_id)
    rows = (await session.execute(apply_keyset(query, Alert.id, "alerts", page, descending=True))).all()
    return make_page([(a, c) for a, c in rows], "alerts", page, lambda r: r[0].id)


async def get_alert(session: AsyncSession, principal: Principal, alert_id: str) -> tuple[Alert, str | None]:
    principal.require(Perm.DATA_READ)
    if not is_id(alert_id):
        raise not_found("alert")
    row = (await session.execute(_scoped_alerts(principal).where(Alert.id == alert_id))).first()
    if row is None:
        raise not_found("alert")
    return row[0], row[1]


async def alert_volume(
    session: AsyncSession, principal: Principal, days: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Alerts per day and rule (with how many opened a case), in the caller's scope."""
    principal.require(Perm.DATA_READ)
    since = (now or utc_now()) - timedelta(days=days)
    query = _scoped_alerts(principal).where(Alert.fired_at >= since)
    counts: dict[tuple[str, str, str], list[int]] = {}
    for alert, _code in await session.execute(query):
        key = (alert.fired_at.date().isoformat(), alert.rule_id, alert.kind)
        entry = counts.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += 1 if alert.case_id else 0
    return [
        {"day": d, "rule_id": r, "kind": k, "alerts": v[0], "with_case": v[1]}
        for (d, r, k), v in sorted(counts.items())
    ]


async def dry_run(
    session: AsyncSession,
    principal: Principal,
    raw: dict[str, Any] | None,
    rule_id: str | None,
    days: int,
    limit: int,
) -> dict[str, Any]:
    """How many of the recent responses a response rule would have fired on; fires nothing."""
    principal.require(Perm.CONFIG_WRITE)
    if (raw is None) == (rule_id is None):
        raise invalid("definition", "Give either definition or rule_id.")
    if raw is None:
        row = await get_rule(session, principal, str(rule_id))
        raw, name, version = row.definition, row.name, row.version
    else:
        name, version = "dry run", 0
    rule = parse_rule(raw)
    if not isinstance(rule, ResponseRule):
        raise invalid("definition.kind", "A dry run replays responses: it needs a response rule.")
    await check_units(session, principal.tenant_id, rule)
    probe = AlertRule(
        id="dry-run",
        tenant_id=principal.tenant_id,
        name=name,
        kind="response",
        definition=rule.model_dump(mode="json", by_alias=True),
        version=version,
    )
    compiled = (await compile_rows(session, principal.tenant_id, [probe]))[0]
    config = TenantConfig(
        version=-1,
        rules=(compiled,),
        webhooks=(),
        needs_contact=compiled.needs_contact,
        needs_text=compiled.needs_text,
        needs_unit_path=bool(compiled.unit_paths),
    )
    since = utc_now() - timedelta(days=days)
    responses = (
        await session.execute(
            select(Response)
            .where(
                Response.tenant_id == principal.tenant_id,
                Response.status == "complete",
                Response.submitted_at >= since,
            )
            .order_by(Response.submitted_at.desc(), Response.id.desc())
            .limit(limit)
        )
    ).scalars()
    evaluated, fired = 0, []
    for response in responses:
        evaluated += 1
        subject, _contact = await subject_for(session, config, response)
        if compiled.matches(subject):
            fired.append(response.id)
    return {"evaluated": evaluated, "would_fire": len(fired), "response_ids": fired[:20]}


async def create_channel(
    session: AsyncSession,
    principal: Principal,
    name: str,
    kind: str,
    config: dict[str, Any],
    language: str | None,
) -> NotificationChannel:
    principal.require(Perm.CONFIG_WRITE)
    errors = check_channel_config(kind, config)
    if errors:
        raise ValidationFailed(
            "The channel is not valid.", errors=[FieldError(path=p, message=m) for p, m in errors]
        )
    taken = await session.execute(
        select(NotificationChannel.id).where(
            NotificationChannel.tenant_id == principal.tenant_id, NotificationChannel.name == name
        )
    )
    if taken.first() is not None:
        raise invalid("name", "A channel of this name exists.", code="channel_name_taken")
    row = NotificationChannel(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=name,
        kind=kind,
        language=language,
        enabled=True,
        created_at=utc_now(),
    )
    seal_config(row, config)
    session.add(row)
    record(
        session, Actor.of(principal), "alert_channel.created", target_type="alert_channel", target_id=row.id
    )
    return row


async def list_channels(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[NotificationChannel]:
    principal.require(Perm.CONFIG_WRITE)
    query = select(NotificationChannel).where(NotificationChannel.tenant_id == principal.tenant_id)
    rows = (
        await session.execute(apply_keyset(query, NotificationChannel.id, "alert_channels", page))
    ).scalars()
    return make_page(list(rows), "alert_channels", page, lambda r: r.id)


async def list_notifications(
    session: AsyncSession, principal: Principal, page: PageRequest, alert_id: str | None
) -> Page[Notification]:
    principal.require(Perm.CONFIG_WRITE)
    query = select(Notification).where(Notification.tenant_id == principal.tenant_id)
    if alert_id:
        query = query.where(Notification.alert_id == alert_id)
    rows = (
        await session.execute(
            apply_keyset(query, Notification.id, "alert_notifications", page, descending=True)
        )
    ).scalars()
    return make_page(list(rows), "alert_notifications", page, lambda r: r.id)


async def create_webhook(
    session: AsyncSession, principal: Principal, url: str, events: list[str], secret: str | None
) -> tuple[Webhook, str]:
    """The new webhook and its clear secret (shown once, in the answer that created it)."""
    principal.require(Perm.CONFIG_WRITE)
    refused = await target_refusal(url)
    if refused is not None:
        raise invalid("url", refused, code="webhook_target_refused")
    row = Webhook(
        id=new_id(),
        tenant_id=principal.tenant_id,
        url=url,
        events=sorted(set(events)),
        enabled=True,
        created_by=principal.user_id,
        created_at=utc_now(),
    )
    clear = secret or new_secret()
    seal_secret(row, clear)
    session.add(row)
    await bump_config(session, principal.tenant_id)
    record(session, Actor.of(principal), "webhook.created", target_type="webhook", target_id=row.id)
    return row, clear


async def get_webhook(session: AsyncSession, principal: Principal, webhook_id: str) -> Webhook:
    principal.require(Perm.CONFIG_WRITE)
    if not is_id(webhook_id):
        raise not_found("webhook")
    row = await session.get(Webhook, webhook_id)
    if row is None or row.tenant_id != principal.tenant_id:
        raise not_found("webhook")
    return row


async def list_webhooks(session: AsyncSession, principal: Principal, page: PageRequest) -> Page[Webhook]:
    principal.require(Perm.CONFIG_WRITE)
    query = select(Webhook).where(Webhook.tenant_id == principal.tenant_id)
    rows = (await session.execute(apply_keyset(query, Webhook.id, "webhooks", page))).scalars()
    return make_page(list(rows), "webhooks", page, lambda r: r.id)


async def set_webhook_enabled(
    session: AsyncSession, principal: Principal, webhook_id: str, enabled: bool
) -> Webhook:
    row = await get_webhook(session, principal, webhook_id)
    row.enabled = enabled
    await bump_config(session, principal.tenant_id)
    action = "webhook.enabled" if enabled else "webhook.disabled"
    record(session, Actor.of(principal), action, target_type="webhook", target_id=row.id)
    return row


async def list_deliveries(
    session: AsyncSession, principal: Principal, webhook_id: str, page: PageRequest, status: str | None
) -> Page[WebhookDelivery]:
    hook = await get_webhook(session, principal, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    rows = (
        await session.execute(
            apply_keyset(query, WebhookDelivery.id, "webhook_deliveries", page, descending=True)
        )
    ).scalars()
    return make_page(list(rows), "webhook_deliveries", page, lambda r: r.id)


async def get_delivery(
    session: AsyncSession, principal: Principal, webhook_id: str, delivery_id: str
) -> WebhookDelivery:
    hook = await get_webhook(session, principal, webhook_id)
    row = await session.get(WebhookDelivery, delivery_id) if is_id(delivery_id) else None
    if row is None or row.webhook_id != hook.id:
        raise not_found("webhook_delivery")
    return row


async def count_alerts(session: AsyncSession, tenant_id: str) -> int:
    return int(
        (await session.execute(select(func.count()).where(Alert.tenant_id == tenant_id))).scalar() or 0
    )
