"""Job handlers of the alerts domain (imported by cxloop.worker.jobs).

- ``alerts.evaluate``: a collection pipeline subscriber (stored and edited responses):
  queues ``response.created`` webhooks and fires matching response rules. It runs inside
  the pipeline job's transaction, after customers, so the linked contact is visible; a
  re-run after a crash finds nothing committed and starts over, and a re-run after a
  commit finds the alerts and fires nothing twice. Stored responses: rules on text facts
  (sentiment, topics) wait for text analysis in the background lane
  (``alerts.evaluate_text``); all other rules fire in the prompt lane, so an alert never
  waits for a model.
- ``alerts.notify`` / ``alerts.deliver_webhook``: one notification / webhook delivery.
- ``alerts.metric_rules``: the periodic outer-loop evaluation.
- case events from ``cxloop.cases.subscribe_case_events`` become webhook deliveries.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.cases as cases_api
from cxloop.alerts.actions import NOTIFY_JOB
from cxloop.alerts.metric import METRIC_JOB, run_metric_rules
from cxloop.alerts.notify import send_notification
from cxloop.alerts.responses import fire_for_response, fire_for_responses, response_event
from cxloop.alerts.service import TenantConfig, tenant_config
from cxloop.alerts.webhooks import DELIVER_JOB, attempt, queue_event
from cxloop.collection import (
    BACKGROUND,
    Response,
    batch_response_ids,
    subscribe,
    subscribe_batch,
    subscribe_edits,
)
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import PRIORITY_URGENT, job

log = logging.getLogger("cxloop.alerts")


_CONFIG_KEY = "cxloop_alerts_batch_config"


async def batch_config(session: AsyncSession, tenant_id: str) -> TenantConfig:
    """The tenant's rules, read once per pipeline batch (one transaction) rather than
    once per response."""
    if not batch_response_ids(session):
        return await tenant_config(session, tenant_id)
    cached: dict[str, TenantConfig] = session.info.setdefault(_CONFIG_KEY, {})
    config = cached.get(tenant_id)
    if config is None:
        config = cached[tenant_id] = await tenant_config(session, tenant_id)
    return config


@subscribe_batch("alerts.evaluate")
async def evaluate_stored(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
    # Set-based over the pipeline's batch: rules, units and contacts are read once for it,
    # and what already fired (a retried job) in one query; see fire_for_responses.
    by_tenant: dict[str, list[Response]] = {}
    for response_id, _payload in items:
        response = await session.get(Response, response_id)  # preloaded by the pipeline
        if response is not None and response.status == "complete":
            by_tenant.setdefault(response.tenant_id, []).append(response)
    for tenant_id, responses in by_tenant.items():
        config = await batch_config(session, tenant_id)
        hooks = config.webhooks_for("response.created")
        for response in responses if hooks else ():
            await queue_event(
                session, tenant_id, "response.created", response.id, response_event(response), hooks
            )
        fired = await fire_for_responses(session, config, responses, text_rules=False)
        if fired:
            log.info("%d response(s) fired %d alert(s)", len(responses), len(fired))


@subscribe("alerts.evaluate_text", lane=BACKGROUND)
async def evaluate_stored_text(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    # Registered after text.analyze (JOB_MODULES order), so the analyses are there.
    response = await session.get(Response, response_id)
    if response is None or response.status != "complete":
        return
    config = await batch_config(session, response.tenant_id)
    if not config.needs_text:
        return
    fired = await fire_for_response(session, config, response, text_rules=True)
    if fired:
        log.info("response %s fired %d alert(s) on text facts", response_id, len(fired))


@subscribe_edits("alerts.evaluate")
async def evaluate_edited(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    # An edit may make a rule match that did not before; one alert per rule and
    # response still holds (the alert's unique subject).
    response = await session.get(Response, response_id)
    if response is None or response.status != "complete":
        return
    await fire_for_response(session, await tenant_config(session, response.tenant_id), response)


@job(NOTIFY_JOB, priority=PRIORITY_URGENT)
async def run_notify(session: AsyncSession, payload: dict[str, Any]) -> None:
    await send_notification(session, str(payload["notification_id"]))


@job(DELIVER_JOB, priority=PRIORITY_URGENT)
async def run_deliver(session: AsyncSession, payload: dict[str, Any]) -> None:
    await attempt(session, str(payload["delivery_id"]))


@job(METRIC_JOB)
async def run_metrics(session: AsyncSession, payload: dict[str, Any]) -> None:
    fired = await run_metric_rules(session)
    if fired:
        log.info("metric rules fired %d alert(s)", fired)


async def on_case_event(session: AsyncSession, event: str, payload: dict[str, Any]) -> None:
    tenant_id = str(payload["tenant_id"])
    config = await tenant_config(session, tenant_id)
    hooks = config.webhooks_for(event)
    if not hooks:
        return
    # A case is created once (its id is the key); later events happen many times, and
    # each call is one occurrence: the cases job calling us runs to commit once.
    key = str(payload["case_id"]) if event == "case.created" else f"{payload['case_id']}:{new_id()}"
    await queue_event(session, tenant_id, event, key, payload, hooks)


_subscribe_case_events = getattr(cases_api, "subscribe_case_events", None)
if _subscribe_case_events is not None:
    _subscribe_case_events("alerts.webhooks")(on_case_event)
