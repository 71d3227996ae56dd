"""Case events for other domains (notifications, webhooks), after commit.

Cases cannot import alerts (layering), so alerts registers a handler here.
A service that changes a case calls ``emit`` inside its transaction: that
enqueues one ``cases.event_delivery`` outbox job per subscriber, so the event
exists if and only if the change commits, and a failing subscriber is
retried alone and never makes the others run twice. A process that has not
loaded the subscribers (a CLI command) enqueues one ``cases.event`` job
instead, which the worker fans out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case
from cxloop.kit.jobs import PRIORITY_URGENT, enqueue, job

log = logging.getLogger("cxloop.cases.events")

CASE_CREATED = "case.created"
CASE_UPDATED = "case.updated"
CASE_ASSIGNED = "case.assigned"
CASE_ESCALATED = "case.escalated"
CASE_RESOLVED = "case.resolved"
CASE_EVENTS = frozenset({CASE_CREATED, CASE_UPDATED, CASE_ASSIGNED, CASE_ESCALATED, CASE_RESOLVED})

FAN_OUT_JOB = "cases.event"
DELIVERY_JOB = "cases.event_delivery"

# handler(session, event, payload); runs in a job, so it must tolerate
# running again after a crash before that job's commit.
CaseEventHandler = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[None]]

_handlers: dict[str, CaseEventHandler] = {}


def subscribe_case_events(name: str) -> Callable[[CaseEventHandler], CaseEventHandler]:
    """Register ``handler`` under a stable name (one per name)."""

    def register(handler: CaseEventHandler) -> CaseEventHandler:
        known = _handlers.get(name)
        if known is not None and known is not handler:
            raise ValueError(f"case event subscriber {name!r} is registered twice")
        _handlers[name] = handler
        return handler

    return register


def unsubscribe_case_events(name: str) -> None:
    _handlers.pop(name, None)


def case_event_subscribers() -> dict[str, CaseEventHandler]:
    return dict(_handlers)


def case_payload(case: Case) -> dict[str, Any]:
    return {
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "number": case.number,
        "title": case.title,
        "status": case.status,
        "priority": case.priority,
        "unit_id": case.unit_id,
        "owner_id": case.owner_id,
        "escalated_to_id": case.escalated_to_id,
        "escalation_level": case.escalation_level,
        "response_id": case.response_id,
        "contact_id": case.contact_id,
        "rule_id": case.rule_id,
        "due_at": _due(case),
        "url_path": f"/cases/{case.id}",
    }


def _due(case: Case) -> str | None:
    due = case.ack_due_at if case.status == "new" else case.resolve_due_at
    return due.isoformat() if due is not None and case.status not in ("resolved", "closed") else None


def emit(session: AsyncSession, event: str, case: Case, **extra: Any) -> None:
    """Queue ``event`` for every subscriber, in the caller's transaction."""
    if event not in CASE_EVENTS:
        raise ValueError(f"unknown case event {event!r}")
    payload = case_payload(case) | extra
    body = {"event": event, "payload": payload}
    if not _handlers:
        # This process has not loaded the subscribers (a CLI command): the
        # worker, which has, fans the event out.
        enqueue(session, FAN_OUT_JOB, body)
        return
    # One hop less on the way to a webhook: the web app and the worker load
    # every domain's tasks, so the subscribers known here are all of them.
    for name in _handlers:
        enqueue(session, DELIVERY_JOB, {"subscriber": name, **body})


@job(FAN_OUT_JOB, priority=PRIORITY_URGENT)
async def fan_out(session: AsyncSession, payload: dict[str, Any]) -> None:
    for name in _handlers:
        enqueue(session, DELIVERY_JOB, {"subscriber": name, **payload})


@job(DELIVERY_JOB, priority=PRIORITY_URGENT)
async def deliver(session: AsyncSession, payload: dict[str, Any]) -> None:
    handler = _handlers.get(payload["subscriber"])
    if handler is None:  # unsubscribed since: nothing to do
        log.warning("case event subscriber %s is gone", payload["subscriber"])
        return
    await handler(session, payload["event"], payload["payload"])
