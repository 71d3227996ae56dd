"""Signed generic webhooks: subscriptions, deliveries, signing and the delivery attempt.

Each event occurrence for each subscribed webhook is one ``WebhookDelivery`` row,
created in the transaction that produced the event and sent by an outbox job after
its commit. Every attempt carries the same delivery id (``X-Cxloop-Delivery``) and
the same body, so a receiver drops duplicates; the signature covers the attempt's
timestamp and the body: ``X-Cxloop-Signature: v1=<hex HMAC-SHA256(secret, f"{ts}." + body)>``.
The secret is stored sealed (``Webhook.secret_enc``) and opened only here, to sign.
See docs/adr/0026-webhook-signing-and-delivery.md and docs/adr/0032.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.alerts.models import Webhook, WebhookDelivery, webhook_secret_place
from cxloop.alerts.targets import target_refusal
from cxloop.kit.clock import utc_now
from cxloop.kit.crypto import FieldKeyError
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import backoff, enqueue
from cxloop.kit.sealed import seal, unseal

log = logging.getLogger("cxloop.alerts")

DELIVER_JOB = "alerts.deliver_webhook"
EVENTS = (
    "response.created",
    "alert.created",
    "case.created",
    "case.updated",
    "case.assigned",
    "case.escalated",
    "case.resolved",
)
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 5.0
# Signatures older than this should be refused by receivers (replays).
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def seal_secret(hook: Webhook, secret: str) -> None:
    """Store ``secret`` sealed on the row (its id and tenant must be set: they bind the value)."""
    hook.secret_enc = seal(secret, webhook_secret_place(hook))


def secret_of(hook: Webhook) -> str:
    """The clear signing secret: for signing a delivery only."""
    return unseal(hook.secret_enc, webhook_secret_place(hook))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None) -> bool:
    """What a receiver does (and what the tests do)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def body_of(delivery: WebhookDelivery) -> bytes:
    # Stable across attempts: built from stored fields only.
    document = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


async def queue_event(
    session: AsyncSession,
    tenant_id: str,
    event: str,
    key: str,
    data: dict[str, Any],
    webhook_ids: list[str] | None = None,
) -> list[str]:
    """One delivery per subscribed webhook, unless this occurrence (``key``) already has one."""
    if webhook_ids is None:
        rows = await session.execute(
            select(Webhook.id, Webhook.events).where(Webhook.tenant_id == tenant_id, Webhook.enabled)
        )
        webhook_ids = [hook_id for hook_id, events in rows if event in events]
    if not webhook_ids:
        return []
    event_key = f"{event}:{key}"[:120]
    existing = set(
        (
            await session.execute(
                select(WebhookDelivery.webhook_id).where(
                    WebhookDelivery.webhook_id.in_(webhook_ids), WebhookDelivery.event_key == event_key
                )
            )
        )
        .scalars()
        .all()
    )
    created: list[str] = []
    now = utc_now()
    for hook_id in webhook_ids:
        if hook_id in existing:
            continue
        delivery = WebhookDelivery(
            id=new_id(),
            tenant_id=tenant_id,
            webhook_id=hook_id,
            event=event,
            event_key=event_key,
            payload=data,
            status="pending",
            attempts=0,
            attempt_log=[],
            created_at=now,
        )
        session.add(delivery)
        created.append(delivery.id)
    if created:
        await session.flush()
        for delivery_id in created:
            enqueue(session, DELIVER_JOB, {"delivery_id": delivery_id})
    return created


async def attempt(session: AsyncSession, delivery_id: str) -> None:
    """Send one delivery once; on failure record it and schedule the next try."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return
    hook = await session.get(Webhook, delivery.webhook_id)
    if hook is None or not hook.enabled:
        delivery.status = "dead"
        delivery.last_error = "the webhook was disabled"
        return
    refused = await target_refusal(hook.url)
    if refused is not None:
        # Retrying will not help until someone changes the receiver or the setting;
        # the log says why and POST .../redeliver sends it once that is done.
        delivery.status = "dead"
        delivery.last_error = f"refused: the URL {refused}"[:500]
        log.warning("webhook delivery %s refused: %s", delivery.id, refused)
        return
    body = body_of(delivery)
    timestamp = int(time.time())
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        signature = sign(secret_of(hook), timestamp, body)
    except FieldKeyError:
        # The operator removed the key that sealed this secret: nothing is sent unsigned;
        # the attempt is logged and retried, so restoring the key lets it through.
        signature = None
        error = "the signing secret does not decrypt: its key is missing from CXLOOP_FIELD_KEYS"
    if signature is not None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cxloop-webhooks/1",
            "X-Cxloop-Event": delivery.event,
            "X-Cxloop-Delivery": delivery.id,
            "X-Cxloop-Timestamp": str(timestamp),
            "X-Cxloop-Signature": signature,
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False) as client:
                answer = await client.post(hook.url, content=body, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"answered {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    delivery.attempts += 1
    delivery.last_status_code = status
    delivery.last_error = error
    entry = {
        "at": utc_now().isoformat(),
        "status_code": status,
        "error": error,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    delivery.attempt_log = [*delivery.attempt_log, entry][-20:]
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = utc_now()
        return
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "dead"
        log.warning("webhook delivery %s is dead after %d attempts", delivery.id, delivery.attempts)
        return
    delay: timedelta = backoff(delivery.attempts)
    log.info("webhook delivery %s failed (%s); retry in %s", delivery.id, error, delay)
    enqueue(session, DELIVER_JOB, {"delivery_id": delivery.id}, delay=delay)


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> None:
    """Send a delivery again (same id), e.g. after a receiver was fixed."""
    delivery.status = "pending"
    delivery.attempts = 0 if delivery.attempts >= MAX_ATTEMPTS else delivery.attempts
    enqueue(session, DELIVER_JOB, {"delivery_id": delivery.id})
