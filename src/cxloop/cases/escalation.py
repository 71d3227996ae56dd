"""Escalation on SLA breach, by a scheduled job.

``cases.escalate`` runs every minute (PERIODIC_JOBS). It looks only at cases
whose ``next_escalation_at`` has passed: on a breach the case goes to the
next manager up the unit tree (the owner keeps it; the manager is told and
sees it in "mine"), then, each ``escalate_every_minutes`` of business time
later, to the next one, ending with a CX manager. Time comes from the
injectable clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases import events, timeline
from cxloop.cases.assignment import manager_chain
from cxloop.cases.models import Case
from cxloop.cases.service import _unit, now_or
from cxloop.cases.sla import calendar_for, due, policy_for
from cxloop.cases.states import NEW, OPEN_STATUSES
from cxloop.identity import Tenant
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.cases.escalation")

ESCALATE_JOB = "cases.escalate"
BATCH = 200


async def escalate_due(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Escalate every case whose breach is due; returns how many were escalated."""
    at = now_or(now)
    query = (
        select(Case)
        .where(Case.next_escalation_at <= at, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.next_escalation_at)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two sweeps at once (a second worker) each take different cases.
        query = query.with_for_update(skip_locked=True)
    rows = await session.execute(query)
    escalated = 0
    for case in rows.scalars().all():
        if await _escalate(session, case, at):
            escalated += 1
    return escalated


async def _escalate(session: AsyncSession, case: Case, at: datetime) -> bool:
    if case.status == NEW and case.ack_due_at is not None and case.ack_due_at <= at:
        breach = "acknowledge"
    elif case.resolve_due_at is not None and case.resolve_due_at <= at:
        breach = "resolve"
    else:
        # Looked at too early (the deadline moved): come back at the deadline.
        case.next_escalation_at = case.resolve_due_at
        return False
    unit = await _unit(session, case.tenant_id, case.unit_id)
    chain = [
        user_id for user_id in await manager_chain(session, case.tenant_id, unit) if user_id != case.owner_id
    ]
    if case.escalation_level >= len(chain):
        case.next_escalation_at = None
        timeline.add(session, case, "escalation_exhausted", at=at, label="system", details={"breach": breach})
        return False
    target = chain[case.escalation_level]
    previous = case.escalated_to_id
    case.escalated_to_id = target
    case.escalation_level += 1
    case.updated_at = at
    tenant = await session.get(Tenant, case.tenant_id)
    calendar = await calendar_for(session, case.tenant_id, unit, tenant.timezone if tenant else "UTC")
    policy = await policy_for(session, case.tenant_id, case.priority)
    case.next_escalation_at = due(at, policy.escalate_every_minutes, calendar, policy)
    timeline.add(
        session,
        case,
        "escalated",
        at=at,
        label="system",
        from_value=previous,
        to_value=target,
        details={"breach": breach, "level": case.escalation_level},
    )
    await session.flush()
    events.emit(session, events.CASE_ESCALATED, case, breach=breach)
    return True


@job(ESCALATE_JOB, max_attempts=3)
async def run_escalations(session: AsyncSession, payload: dict[str, Any]) -> None:
    count = await escalate_due(session)
    if count:
        log.info("%d case(s) escalated", count)
