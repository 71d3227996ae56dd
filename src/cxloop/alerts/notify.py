"""Sending one queued notification (the ``alerts.notify`` job's work).

A failure is recorded on the row (attempts, last error) and the job schedules its own
next try with backoff, so the failure is visible and retried without undoing the
alert or the case; after ``MAX_ATTEMPTS`` the notification is ``dead``.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.alerts.actions import NOTIFY_JOB
from cxloop.alerts.channels import config_of, send_apprise, send_email, send_sms
from cxloop.alerts.messages import render_alert
from cxloop.alerts.models import Alert, Notification, NotificationChannel
from cxloop.kit.clock import utc_now
from cxloop.kit.jobs import backoff, enqueue
from cxloop.kit.settings import get_settings

log = logging.getLogger("cxloop.alerts")

MAX_ATTEMPTS = 8


def base_url() -> str:
    return str(getattr(get_settings(), "public_url", None) or "http://localhost:8000")


async def _tenant_smtp(session: AsyncSession, tenant_id: str) -> dict[str, object] | None:
    channel = (
        await session.execute(
            select(NotificationChannel)
            .where(
                NotificationChannel.tenant_id == tenant_id,
                NotificationChannel.kind == "email",
                NotificationChannel.enabled,
            )
            .order_by(NotificationChannel.id)
        )
    ).scalars()
    for row in channel:
        config = config_of(row)
        if config.get("host"):
            return config
    return None


async def send_notification(session: AsyncSession, notification_id: str) -> None:
    row = await session.get(Notification, notification_id)
    if row is None or row.status != "pending":
        return
    alert = await session.get(Alert, row.alert_id)
    if alert is None:
        row.status = "dead"
        return
    message = render_alert(alert.summary, row.language, base_url())
    try:
        if row.channel_id is not None:
            channel = await session.get(NotificationChannel, row.channel_id)
            if channel is None or not channel.enabled:
                row.status, row.last_error = "dead", "the channel was removed or disabled"
                return
            config = config_of(channel)
            if channel.kind == "apprise":
                await send_apprise(config, message)
            elif channel.kind == "sms":
                await send_sms(config, message)
            else:
                smtp = config if config.get("host") else await _tenant_smtp(session, row.tenant_id)
                await send_email(smtp, list(config.get("to") or []), message)
        else:
            await send_email(await _tenant_smtp(session, row.tenant_id), [row.recipient], message)
    except Exception as exc:  # any channel failure is the channel's problem, not the alert's
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "dead"
            log.warning("notification %s is dead after %d attempts", row.id, row.attempts)
            return
        log.info("notification %s failed (attempt %d); will retry", row.id, row.attempts)
        enqueue(session, NOTIFY_JOB, {"notification_id": row.id}, delay=backoff(row.attempts))
        return
    row.attempts += 1
    row.status = "sent"
    row.sent_at = utc_now()
    row.last_error = None
