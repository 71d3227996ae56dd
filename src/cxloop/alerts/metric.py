"""Metric rules (the outer loop): a unit's metric over a window crosses a threshold,
or drops by X against the previous window, with at least ``min_n`` responses.

Windows are whole UTC days ending at the start of today, so every run within a day
looks at the same window and ``<unit id>@<window start>`` is a stable subject: one
alert per rule, unit and window however often the periodic job runs. Figures come
from the analytics engine (``cxloop.analytics.run_metrics_query``) or, when the rule
names a ``question``, from a small built-in calculator over the stored answers.
Several units firing in one run go to each recipient as one digest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.analytics as analytics_api
from cxloop.alerts.actions import fire, queue_notifications, resolve_targets
from cxloop.alerts.models import AlertRule
from cxloop.alerts.rules import MetricRule, parse_rule
from cxloop.collection import Response
from cxloop.identity import Grant, Principal, Role, Unit
from cxloop.kit.clock import utc_now

log = logging.getLogger("cxloop.alerts")

METRIC_JOB = "alerts.metric_rules"
METRIC_EVERY_SECONDS = 300.0


@dataclass(frozen=True)
class Figure:
    value: float | None
    n: int


def _score(metric: str, values: list[float]) -> float | None:
    if not values:
        return None
    n = len(values)
    if metric == "nps":
        promoters = sum(1 for v in values if v >= 9)
        detractors = sum(1 for v in values if v <= 6)
        return round((promoters - detractors) * 100.0 / n, 1)
    if metric == "csat":
        return round(sum(1 for v in values if v >= 4) * 100.0 / n, 1)
    return round(sum(values) / n, 2)


def windows(rule: MetricRule, now: datetime) -> tuple[datetime, datetime, datetime]:
    end = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    start = end - timedelta(days=rule.window_days)
    return start - timedelta(days=rule.window_days), start, end


async def watched_units(session: AsyncSession, tenant_id: str, rule: MetricRule) -> list[Unit]:
    root = (
        await session.execute(select(Unit).where(Unit.tenant_id == tenant_id, Unit.code == rule.unit))
    ).scalar_one_or_none()
    if root is None:
        return []
    if rule.level is None or rule.level == root.depth:
        return [root]
    rows = await session.execute(
        select(Unit)
        .where(Unit.tenant_id == tenant_id, Unit.path.startswith(root.path), Unit.depth == rule.level)
        .order_by(Unit.code)
    )
    return list(rows.scalars().all())


async def builtin_figures(
    session: AsyncSession, tenant_id: str, rule: MetricRule, units: list[Unit], start: datetime, end: datetime
) -> dict[str, Figure]:
    assert rule.question is not None
    query = (
        select(Unit.path, Response.answers)
        .join(Unit, Unit.id == Response.unit_id)
        .where(
            Response.tenant_id == tenant_id,
            Response.status == "complete",
            Response.submitted_at >= start,
            Response.submitted_at < end,
        )
    )
    if rule.survey_id:
        query = query.where(Response.survey_id == rule.survey_id)
    values: dict[str, list[float]] = {u.id: [] for u in units}
    for path, answers in await session.execute(query):
        value = (answers or {}).get(rule.question)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        for unit in units:
            if path.startswith(unit.path):
                values[unit.id].append(float(value))
    return {unit_id: Figure(_score(rule.metric, v), len(v)) for unit_id, v in values.items()}


def _system_principal(tenant_id: str) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="service",
        user_id=None,
        token_id=None,
        label="alerts",
        name="alerts",
        locale=None,
        grants=(Grant(Role.ADMIN, None, None, None),),
    )


async def engine_figures(
    session: AsyncSession, tenant_id: str, rule: MetricRule, units: list[Unit], start: datetime, end: datetime
) -> dict[str, Figure]:
    query_cls = getattr(analytics_api, "MetricsQuery", None)
    run = getattr(analytics_api, "run_metrics_query", None)
    if query_cls is None or run is None:
        log.warning("metric rule needs the analytics engine (or a question for the built-in calculator)")
        return {}
    by_code = {u.code: u.id for u in units}
    figures: dict[str, Figure] = {}
    for unit in units:
        body: dict[str, Any] = {
            "metrics": [rule.metric],
            "filters": {
                "date_from": start.date().isoformat(),
                "date_to": (end - timedelta(days=1)).date().isoformat(),
                "unit_code": unit.code,
            },
            "group_by": [],
        }
        if rule.survey_id:
            body["survey_id"] = rule.survey_id
        result = await run(session, _system_principal(tenant_id), query_cls.model_validate(body))
        rows = result.get("rows") or []
        row = rows[0] if rows else {}
        value = row.get(rule.metric)
        figures[by_code[unit.code]] = Figure(
            float(value) if isinstance(value, int | float) else None, int(row.get("n") or 0)
        )
    return figures


def crossed(rule: MetricRule, current: Figure, previous: Figure) -> bool:
    if current.value is None or current.n < rule.min_n:
        return False
    when = rule.when
    if when.below is not None:
        return current.value < when.below
    if when.above is not None:
        return current.value > when.above
    assert when.drop_by is not None
    if previous.value is None or previous.n < rule.min_n:
        return False
    return previous.value - current.value >= when.drop_by


async def evaluate_metric_rule(
    session: AsyncSession, row: AlertRule, rule: MetricRule, now: datetime
) -> list[str]:
    """Fire the rule for every watched unit that crossed; returns the new alert ids."""
    prev_start, start, end = windows(rule, now)
    units = await watched_units(session, row.tenant_id, rule)
    if not units:
        return []
    figures = builtin_figures if rule.question else engine_figures
    current = await figures(session, row.tenant_id, rule, units, start, end)
    previous = await figures(session, row.tenant_id, rule, units, prev_start, start)
    fired = []
    empty = Figure(None, 0)
    for unit in units:
        cur, prev = current.get(unit.id, empty), previous.get(unit.id, empty)
        if not crossed(rule, cur, prev):
            continue
        line = f"{rule.metric.upper()} {cur.value} (n={cur.n}); {prev.value} (n={prev.n})"
        summary = {
            "kind": "metric",
            "title": row.name,
            "priority": rule.priority,
            "unit_code": unit.code,
            "unit_names": dict(unit.names),
            "metric": rule.metric,
            "value": cur.value,
            "n": cur.n,
            "previous": prev.value,
            "previous_n": prev.n,
            "window": [start.isoformat(), end.isoformat()],
            "metric_lines": [line],
            "link": "/alerts",
        }
        alert = await fire(
            session,
            tenant_id=row.tenant_id,
            rule_id=row.id,
            rule_version=row.version,
            kind="metric",
            subject_key=f"{unit.id}@{start.date().isoformat()}",
            title=f"{row.name} · {unit.code}",
            priority=rule.priority,
            summary=summary,
            actions=rule.actions,
            unit_id=unit.id,
            notify=not rule.digest,
            now=now,
        )
        if alert is not None:
            fired.append(alert)
    if rule.digest and fired and rule.actions.notify:
        # One message per recipient for the whole run, hung on the first alert.
        first = fired[0]
        first.summary = {
            **first.summary,
            "digest": True,
            "items": [{"title": a.title, "metric_lines": a.summary.get("metric_lines")} for a in fired],
        }
        targets: dict[tuple[str, str], Any] = {}
        for alert in fired:
            for target in await resolve_targets(session, row.tenant_id, alert.unit_id, rule.actions.notify):
                targets.setdefault((target.medium, target.recipient), target)
        await queue_notifications(session, first, list(targets.values()))
    return [a.id for a in fired]


async def run_metric_rules(session: AsyncSession, now: datetime | None = None) -> int:
    now = now or utc_now()
    rows = (
        (await session.execute(select(AlertRule).where(AlertRule.kind == "metric", AlertRule.enabled)))
        .scalars()
        .all()
    )
    count = 0
    for row in rows:
        rule = parse_rule(row.definition)
        assert isinstance(rule, MetricRule)
        count += len(await evaluate_metric_rule(session, row, rule, now))
    return count
