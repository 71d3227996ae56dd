"""Case reporting: volume, time to acknowledge and resolve, SLA compliance,
recovery rate and root causes, over the cases the caller can see.

Computed from the case rows of the window (cases opened in it) in one query;
a tenant's cases per reporting window are thousands, not millions.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case, RootCause
from cxloop.cases.service import now_or, scoped
from cxloop.identity import Perm, Principal, Unit, visible_unit
from cxloop.kit.clock import as_utc

DETRACTOR_MAX, RECOVERED_MIN = 6, 7


def _minutes(start: datetime, end: datetime) -> float:
    return (as_utc(end) - as_utc(start)).total_seconds() / 60


def _durations(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median_minutes": None, "p90_minutes": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"count": len(values), "median_minutes": round(median(ordered), 1), "p90_minutes": round(p90, 1)}


def _compliance(met: int, breached: int) -> dict[str, Any]:
    total = met + breached
    return {"met": met, "breached": breached, "rate": round(met / total, 4) if total else None}


async def case_report(
    session: AsyncSession,
    principal: Principal,
    *,
    unit_code: str | None = None,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    principal.require(Perm.DATA_READ)
    at = now_or(now)
    query = scoped(principal)
    if unit_code is not None:
        unit = await visible_unit(session, principal, unit_code, Perm.DATA_READ)
        query = query.where(Unit.path.startswith(unit.path))
    if opened_from is not None:
        query = query.where(Case.created_at >= opened_from)
    if opened_to is not None:
        query = query.where(Case.created_at < opened_to)
    cases = list((await session.execute(query)).scalars().all())
    ack_minutes = [_minutes(c.created_at, c.acknowledged_at) for c in cases if c.acknowledged_at]
    resolve_minutes = [_minutes(c.created_at, c.resolved_at) for c in cases if c.resolved_at]
    ack_met = ack_breached = resolve_met = resolve_breached = 0
    for case in cases:
        if case.ack_due_at is not None:
            if case.acknowledged_at is not None:
                ack_met += case.acknowledged_at <= case.ack_due_at
                ack_breached += case.acknowledged_at > case.ack_due_at
            elif case.ack_due_at < at:
                ack_breached += 1
        if case.resolve_due_at is not None:
            if case.resolved_at is not None:
                resolve_met += case.resolved_at <= case.resolve_due_at
                resolve_breached += case.resolved_at > case.resolve_due_at
            elif case.resolve_due_at < at and case.status != "closed":
                resolve_breached += 1
    detractors = [c for c in cases if c.initial_score is not None and c.initial_score <= DETRACTOR_MAX]
    with_later = [c for c in detractors if c.later_score is not None]
    recovered = [c for c in with_later if c.later_score is not None and c.later_score >= RECOVERED_MIN]
    causes = Counter(c.root_cause_code for c in cases if c.root_cause_code)
    names: dict[str, dict[str, str]] = {}
    if causes:
        rows = await session.execute(
            select(RootCause.code, RootCause.names).where(
                RootCause.tenant_id == principal.tenant_id, RootCause.code.in_(list(causes))
            )
        )
        names = {code: value for code, value in rows}
    return {
        "cases": len(cases),
        "open": sum(1 for c in cases if c.status in ("new", "acknowledged", "in_progress")),
        "escalated": sum(1 for c in cases if c.escalation_level > 0),
        "by_status": dict(sorted(Counter(c.status for c in cases).items())),
        "by_priority": dict(sorted(Counter(c.priority for c in cases).items())),
        "time_to_acknowledge": _durations(ack_minutes),
        "time_to_resolve": _durations(resolve_minutes),
        "sla": {
            "acknowledge": _compliance(ack_met, ack_breached),
            "resolve": _compliance(resolve_met, resolve_breached),
        },
        "recovery": {
            "detractor_cases": len(detractors),
            "with_later_score": len(with_later),
            "recovered": len(recovered),
            "rate": round(len(recovered) / len(with_later), 4) if with_later else None,
        },
        "root_causes": [
            {"code": code, "names": names.get(code, {}), "count": count}
            for code, count in sorted(causes.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
