"""What a fired rule does: record the alert (once per rule and subject), open a case
through the cases domain, and queue notifications and webhooks for after the commit.

Nothing here sends anything: notifications are rows plus outbox jobs, so they leave
only if the alert commits, and a failing channel can only delay its own message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.cases as cases_api
from cxloop.alerts.models import Alert, Notification, NotificationChannel
from cxloop.alerts.rules import Actions, Recipient
from cxloop.alerts.webhooks import queue_event
from cxloop.identity import Membership, Tenant, Unit, User
from cxloop.kit.clock import utc_now
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue

log = logging.getLogger("cxloop.alerts")

NOTIFY_JOB = "alerts.notify"


def cases_available() -> bool:
    return callable(getattr(cases_api, "open_case", None))


@dataclass(frozen=True)
class Target:
    medium: str  # "email", "sms", "apprise"
    recipient: str  # an address, or a channel id
    language: str
    user_id: str | None = None
    channel_id: str | None = None


async def _tenant_locale(session: AsyncSession, tenant_id: str) -> str:
    tenant = await session.get(Tenant, tenant_id)
    return tenant.default_locale if tenant is not None else "zh-CN"


async def _managers_up_the_tree(
    session: AsyncSession, tenant_id: str, unit_id: str | None, role: str
) -> list[User]:
    if unit_id is None:
        return []
    unit = await session.get(Unit, unit_id)
    if unit is None:
        return []
    chain = [part for part in unit.path.split("/") if part][::-1]  # self, parent, ..., root
    rows = await session.execute(
        select(Membership.unit_id, User)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.role == role,
            Membership.unit_id.in_(chain),
            User.is_active,
        )
        .order_by(User.id)
    )
    by_unit: dict[str, list[User]] = {}
    for member_unit, user in rows:
        by_unit.setdefault(str(member_unit), []).append(user)
    for candidate in chain:
        if candidate in by_unit:
            return by_unit[candidate]
    return []


async def resolve_targets(
    session: AsyncSession, tenant_id: str, unit_id: str | None, recipients: list[Recipient]
) -> list[Target]:
    default_lang = await _tenant_locale(session, tenant_id)
    targets: dict[tuple[str, str], Target] = {}
    for recipient in recipients:
        if recipient.to == "unit_manager":
            for user in await _managers_up_the_tree(session, tenant_id, unit_id, recipient.role):
                targets.setdefault(
                    ("email", user.email),
                    Target("email", user.email, user.locale or default_lang, user_id=user.id),
                )
        elif recipient.to == "user":
            email = (recipient.email or "").strip().lower()
            named: User | None = (
                await session.execute(
                    select(User).where(User.tenant_id == tenant_id, User.email == email, User.is_active)
                )
            ).scalar_one_or_none()
            if named is None:
                log.warning("alert recipient user not found in tenant %s", tenant_id)
                continue
            targets.setdefault(
                ("email", named.email),
                Target("email", named.email, named.locale or default_lang, user_id=named.id),
            )
        else:
            channel = (
                await session.execute(
                    select(NotificationChannel).where(
                        NotificationChannel.tenant_id == tenant_id,
                        NotificationChannel.name == recipient.channel,
                        NotificationChannel.enabled,
                    )
                )
            ).scalar_one_or_none()
            if channel is None:
                log.warning("alert channel missing or disabled in tenant %s", tenant_id)
                continue
            medium = "apprise" if channel.kind == "apprise" else channel.kind
            targets.setdefault(
                (medium, channel.id),
                Target(medium, channel.id, channel.language or default_lang, channel_id=channel.id),
            )
    return list(targets.values())


async def queue_notifications(session: AsyncSession, alert: Alert, targets: list[Target]) -> int:
    now = utc_now()
    for target in targets:
        row = Notification(
            id=new_id(),
            tenant_id=alert.tenant_id,
            alert_id=alert.id,
            medium=target.medium,
            channel_id=target.channel_id,
            recipient=target.recipient,
            user_id=target.user_id,
            language=target.language,
            status="pending",
            attempts=0,
            created_at=now,
        )
        session.add(row)
        enqueue(session, NOTIFY_JOB, {"notification_id": row.id})
    if targets:
        await session.flush()
    return len(targets)


async def existing_alert(
    session: AsyncSession, tenant_id: str, rule_id: str, subject_key: str
) -> Alert | None:
    found: Alert | None = (
        await session.execute(
            select(Alert).where(
                Alert.tenant_id == tenant_id, Alert.rule_id == rule_id, Alert.subject_key == subject_key
            )
        )
    ).scalar_one_or_none()
    return found


def alert_event(alert: Alert) -> dict[str, Any]:
    return {
        "tenant_id": alert.tenant_id,
        "alert_id": alert.id,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "priority": alert.priority,
        "title": alert.title,
        "response_id": alert.response_id,
        "unit_id": alert.unit_id,
        "case_id": alert.case_id,
        "fired_at": alert.fired_at.isoformat(),
        "url_path": f"/alerts#{alert.id}",
    }


async def fire(
    session: AsyncSession,
    *,
    tenant_id: str,
    rule_id: str,
    rule_version: int,
    kind: str,
    subject_key: str,
    title: str,
    priority: str,
    summary: dict[str, Any],
    actions: Actions,
    unit_id: str | None,
    response_id: str | None = None,
    contact_id: str | None = None,
    webhook_ids: list[str] | None = None,
    notify: bool = True,
    now: datetime | None = None,
    checked: bool = False,
) -> Alert | None:
    """Record one alert and queue its actions; None if this rule already fired for this subject.

    ``checked``: the caller has just looked (for a whole batch at once) and found none; the
    unique (tenant, rule, subject) constraint still refuses a second one at the flush.
    The alert row is inserted once, with its case and final summary (no updates after)."""
    if not checked and await existing_alert(session, tenant_id, rule_id, subject_key) is not None:
        return None
    alert = Alert(
        id=new_id(),
        tenant_id=tenant_id,
        rule_id=rule_id,
        rule_version=rule_version,
        kind=kind,
        subject_key=subject_key,
        response_id=response_id,
        contact_id=contact_id,
        unit_id=unit_id,
        priority=priority,
        title=title[:300],
        summary=summary,
        fired_at=now or utc_now(),
    )
    if actions.open_case is not None:
        if cases_available():
            open_case = cases_api.open_case
            case_id, _created = await open_case(
                session,
                tenant_id,
                response_id=response_id,
                contact_id=contact_id,
                unit_id=unit_id,
                priority=actions.open_case.priority or priority,
                title=title[:300],
                source="alert",
                rule_id=rule_id,
                dedupe_days=actions.open_case.dedupe_days,
                now=now,
            )
            alert.case_id = str(case_id)
            case_model = getattr(cases_api, "Case", None)
            case = await session.get(case_model, alert.case_id) if case_model is not None else None
            alert.summary = {
                **summary,
                "link": f"/cases/{case_id}",
                "case_number": getattr(case, "number", None),
            }
        else:
            log.warning("alert %s wants a case but the cases domain offers no open_case yet", alert.id)
    session.add(alert)
    if notify and actions.notify:
        targets = await resolve_targets(session, tenant_id, unit_id, actions.notify)
        await queue_notifications(session, alert, targets)
    await queue_event(session, tenant_id, "alert.created", alert.id, alert_event(alert), webhook_ids)
    return alert
