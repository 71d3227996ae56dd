"""Analytics services beyond the query engine: key drivers, targets and the
per-tenant anonymity threshold. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics.drivers import analyse
from cxloop.analytics.metrics import FIXED, PREFIXED
from cxloop.analytics.models import Target, TenantAnalyticsSettings
from cxloop.analytics.plan import QUESTION, make_plan, tenant_min_n
from cxloop.analytics.schemas import AnalyticsSettingsIn, DriversQuery, MetricsQuery, TargetIn
from cxloop.analytics.sources import Slice, raw_sheets
from cxloop.identity import Actor, Perm, Principal, get_unit_by_code, record
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.surveys import Survey, published_definition

SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}


async def _scales(session: AsyncSession, survey: Survey) -> dict[str, tuple[float, float]]:
    """Each numeric question's scale (low, high) in the published version."""
    if survey.published_version is None:
        return {}
    definition = await published_definition(session, survey.id, survey.published_version)
    if definition is None:
        return {}
    scales: dict[str, tuple[float, float]] = {}
    for _, asked in definition.questions():
        question: Any = asked  # one of many question models; each branch reads its own fields
        kind = question.type
        if kind in SCALES:
            scales[question.id] = SCALES[kind]
        elif kind == "rating":
            scales[question.id] = (1.0, float(question.points))
        elif kind == "matrix":
            values = [float(p.value) for p in question.scale]
            for row in question.rows:
                scales[f"{question.id}.{row.id}"] = (min(values), max(values))
        elif kind == "number" and question.min is not None and question.max is not None:
            scales[question.id] = (float(question.min), float(question.max))
    return scales


def _numeric(answers: dict[str, Any], question_id: str) -> float | None:
    value = answers.get(question_id)
    if value is None and "." in question_id:
        head, _, row = question_id.partition(".")
        holder = answers.get(head)
        value = holder.get(row) if isinstance(holder, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


async def run_drivers(session: AsyncSession, principal: Principal, query: DriversQuery) -> dict[str, Any]:
    survey = await session.get(Survey, query.survey_id) if len(query.survey_id) <= 26 else None
    if survey is None or survey.tenant_id != principal.tenant_id:
        raise not_found("survey")
    plan = await make_plan(
        session,
        principal,
        MetricsQuery(metrics=["n"], survey_id=survey.id, filters=query.filters),
    )
    scales = await _scales(session, survey)
    for index, name in enumerate(query.drivers):
        if not QUESTION.match(name) or name not in scales:
            raise invalid(
                f"drivers.{index}",
                f"{name!r} is not a rating question of this survey; "
                f"rated questions: {', '.join(sorted(scales))}.",
            )
    if len(set(query.drivers)) != len(query.drivers):
        raise invalid("drivers", "A driver is named twice.")
    sheets = await raw_sheets(
        session, plan, Slice(plan.filters.date_from, plan.filters.date_to, plan.visible_units, ())
    )
    rows: list[tuple[float, list[float]]] = []
    outcome_id: str | None = None
    for sheet in sheets:
        outcome_id = (
            sheet.shape.nps
            if query.outcome == "nps"
            else sheet.shape.csat
            if query.outcome == "csat"
            else query.outcome
        )
        if outcome_id is None:
            continue
        y = _numeric(sheet.answers, outcome_id)
        xs = [_numeric(sheet.answers, name) for name in query.drivers]
        if y is None or any(x is None for x in xs):
            continue
        rows.append((y, [float(x) for x in xs if x is not None]))
    if outcome_id is None and query.outcome not in ("nps", "csat") and query.outcome not in scales:
        raise invalid("outcome", f"{query.outcome!r} is not a rating question of this survey.")
    if len(rows) < plan.min_n:
        raise invalid(
            "drivers",
            f"Fewer than {plan.min_n} responses rate every driver (anonymity).",
            code="too_few_responses",
        )
    result = analyse(rows, list(query.drivers), [scales[name] for name in query.drivers])
    result["outcome"] = query.outcome
    return result


def _check_metric(metric: str) -> None:
    head, sep, _ = metric.partition(":")
    # What follows a prefix is free text, stored and audited: no NUL (PostgreSQL) or other control characters.
    if not metric.isprintable() or not ((not sep and metric in FIXED) or (sep and head in PREFIXED)):
        raise invalid("metric", f"Unknown metric {metric!r}.", code="unknown_metric")


async def _target_unit(
    session: AsyncSession, principal: Principal, code: str | None, perm: Perm
) -> tuple[str, str | None]:
    reach = principal.reach(perm)
    if code is None:
        if not reach.everywhere:
            raise invalid("unit_code", "is required: you may set targets for your units only")
        return "", None
    unit = await get_unit_by_code(session, principal.tenant_id, code)
    if unit is None or not reach.covers(unit.id, unit.path):
        raise not_found("unit")
    return unit.id, unit.code


async def set_target(session: AsyncSession, principal: Principal, body: TargetIn) -> dict[str, Any]:
    principal.require(Perm.CONFIG_WRITE)
    _check_metric(body.metric)
    unit_key, code = await _target_unit(session, principal, body.unit_code, Perm.CONFIG_WRITE)
    existing = (
        await session.execute(
            select(Target).where(
                Target.tenant_id == principal.tenant_id,
                Target.unit_key == unit_key,
                Target.metric == body.metric,
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        existing = Target(id=new_id(), tenant_id=principal.tenant_id, unit_key=unit_key, metric=body.metric)
        session.add(existing)
    existing.value = body.value
    existing.updated_at = utc_now()
    await session.flush()
    record(
        session,
        Actor.of(principal),
        "analytics.target_set",
        target_type="target",
        target_id=existing.id,
        details={"unit_code": code, "metric": body.metric, "value": body.value},
    )
    return {"id": existing.id, "unit_code": code, "metric": body.metric, "value": body.value}


async def list_targets(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Perm.DATA_READ)
    from cxloop.identity import Unit

    reach = principal.reach(Perm.DATA_READ)
    rows = await session.execute(
        select(Target, Unit.code, Unit.path)
        .outerjoin(Unit, Unit.id == Target.unit_key)
        .where(Target.tenant_id == principal.tenant_id)
        .order_by(Unit.code, Target.metric)
    )
    return [
        {"id": t.id, "unit_code": code, "metric": t.metric, "value": t.value}
        for t, code, path in rows
        # A target applies to its unit's subtree: callers see those of their units and above them.
        if code is None
        or reach.covers(t.unit_key, path)
        or any(p.startswith(path) for p in reach.subtree_paths)
    ]


async def delete_target(session: AsyncSession, principal: Principal, target_id: str) -> None:
    principal.require(Perm.CONFIG_WRITE)
    target = await session.get(Target, target_id) if len(target_id) <= 26 else None
    if target is None or target.tenant_id != principal.tenant_id:
        raise not_found("target")
    if target.unit_key:
        from cxloop.identity import Unit

        unit = await session.get(Unit, target.unit_key)
        if unit is None or not principal.reach(Perm.CONFIG_WRITE).covers(unit.id, unit.path):
            raise not_found("target")
    elif not principal.reach(Perm.CONFIG_WRITE).everywhere:
        raise not_found("target")
    await session.execute(delete(Target).where(Target.id == target_id))
    record(
        session, Actor.of(principal), "analytics.target_deleted", target_type="target", target_id=target_id
    )


async def get_settings_view(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    principal.require(Perm.DATA_READ)
    return {"min_n": await tenant_min_n(session, principal.tenant_id)}


async def put_settings(
    session: AsyncSession, principal: Principal, body: AnalyticsSettingsIn
) -> dict[str, Any]:
    principal.require(Perm.CONFIG_WRITE)
    if not principal.reach(Perm.CONFIG_WRITE).everywhere:
        raise invalid("min_n", "Only tenant-wide roles may change the anonymity threshold.")
    row = await session.get(TenantAnalyticsSettings, principal.tenant_id)
    if row is None:
        row = TenantAnalyticsSettings(tenant_id=principal.tenant_id, min_n=body.min_n, updated_at=utc_now())
        session.add(row)
    row.min_n, row.updated_at = body.min_n, utc_now()
    await session.flush()
    record(session, Actor.of(principal), "analytics.settings_changed", details={"min_n": body.min_n})
    return {"min_n": body.min_n}
