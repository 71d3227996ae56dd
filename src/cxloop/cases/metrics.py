"""Case reporting through the metrics query API: analytics is below cases in
the layering, so cases registers a provider for its metric names, and
``POST /api/v1/metrics/query`` answers them by day, week, month, quarter,
year, unit or unit level, over the cases the caller can see that were opened
in the window (the same figures as ``GET /api/v1/cases/report``).

- ``cases.opened``: cases opened, and of them ``alert_cases`` (opened by an alert rule).
- ``cases.time_to_acknowledge`` / ``cases.time_to_resolve``: median and p90 minutes.
- ``cases.sla_compliance``: % of due times met (acknowledge and resolve), and each.
- ``cases.recovery_rate``: % of detractor cases whose customer's next score is 7 or more.
- ``cases.root_causes``: cases per root-cause code.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics import MetricProvider, ProviderRequest, register_metric_provider
from cxloop.cases.models import Case
from cxloop.cases.report import DETRACTOR_MAX, RECOVERED_MIN, _durations, _minutes
from cxloop.cases.service import now_or, scoped
from cxloop.identity import Principal, Unit
from cxloop.kit.clock import as_utc

METRICS = (
    "cases.opened",
    "cases.time_to_acknowledge",
    "cases.time_to_resolve",
    "cases.sla_compliance",
    "cases.recovery_rate",
    "cases.root_causes",
)


def _pct(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 2) if whole else None


def _sla(cases: list[Case], now: Any) -> dict[str, Any]:
    """Due times met and breached; an open case past its due time is a breach already."""
    ack = [0, 0]
    resolve = [0, 0]
    for case in cases:
        if case.ack_due_at is not None:
            due = as_utc(case.ack_due_at)
            if case.acknowledged_at is not None:
                ack[0 if as_utc(case.acknowledged_at) <= due else 1] += 1
            elif due < now:
                ack[1] += 1
        if case.resolve_due_at is not None:
            due = as_utc(case.resolve_due_at)
            if case.resolved_at is not None:
                resolve[0 if as_utc(case.resolved_at) <= due else 1] += 1
            elif due < now and case.status != "closed":
                resolve[1] += 1
    met, total = ack[0] + resolve[0], sum(ack) + sum(resolve)
    return {
        "sla_compliance": _pct(met, total),
        "sla_due": total,
        "sla_acknowledge": _pct(ack[0], sum(ack)),
        "sla_resolve": _pct(resolve[0], sum(resolve)),
    }


def _figures(metric: str, cases: list[Case], now: Any) -> dict[str, Any]:
    if metric == "cases.opened":
        return {"cases.opened": len(cases), "alert_cases": sum(1 for c in cases if c.source == "alert")}
    if metric in ("cases.time_to_acknowledge", "cases.time_to_resolve"):
        field = "acknowledged_at" if metric.endswith("acknowledge") else "resolved_at"
        minutes = [_minutes(c.created_at, getattr(c, field)) for c in cases if getattr(c, field)]
        durations = _durations(minutes)
        return {
            metric: durations["median_minutes"],
            f"{metric}_p90": durations["p90_minutes"],
            f"{metric}_n": durations["count"],
        }
    if metric == "cases.sla_compliance":
        sla = _sla(cases, now)
        return {"cases.sla_compliance": sla.pop("sla_compliance"), **sla}
    if metric == "cases.recovery_rate":
        detractors = [c for c in cases if c.initial_score is not None and c.initial_score <= DETRACTOR_MAX]
        later = [c for c in detractors if c.later_score is not None]
        recovered = sum(1 for c in later if c.later_score is not None and c.later_score >= RECOVERED_MIN)
        return {
            "cases.recovery_rate": _pct(recovered, len(later)),
            "recovery_detractor_cases": len(detractors),
            "recovery_with_later_score": len(later),
            "recovered": recovered,
        }
    causes = Counter(c.root_cause_code for c in cases if c.root_cause_code)
    return {"cases.root_causes": dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])))}


async def case_metrics(
    session: AsyncSession, principal: Principal, request: ProviderRequest
) -> dict[tuple[Any, ...], dict[str, Any]]:
    query = scoped(principal).where(Case.created_at >= request.start, Case.created_at < request.end)
    if request.unit_path is not None:
        query = query.where(Unit.path.startswith(request.unit_path))
    groups: dict[tuple[Any, ...], list[Case]] = {}
    for case in (await session.execute(query)).scalars():
        groups.setdefault(request.group_key(as_utc(case.created_at), case.unit_id), []).append(case)
    now = now_or(None)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key, members in groups.items():
        row: dict[str, Any] = {"n": len(members)}
        for metric in request.metrics:
            row.update(_figures(metric, members, now))
        out[key] = row
    return out


register_metric_provider(MetricProvider(name="cases", metrics=METRICS, compute=case_metrics))
