"""Response rate: of the invitations sent in the period, the share answered
with a completed response, per group of a metrics query.

Invitations belong to the distribution domain and carry their survey, unit,
channel and touchpoint, so the rate groups by those and by time (the day
the invitation was sent, in the tenant's timezone), within the caller's
units. An invitation counts as answered once a completed response came
through its personal link (``responded_at``); responses through anonymous
links have no invitation and do not count. Filters on answers, contact
attributes, segments or text have no meaning for an unanswered invitation:
the rate is then left empty, with a note.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop import distribution
from cxloop.analytics import stats
from cxloop.analytics.plan import FILTERS, ROLLUP_FILTERS, TIME_GROUPS, Plan, _given
from cxloop.analytics.sources import Key, Slice, _keys

METRIC = "response_rate"
GROUPS = frozenset({*TIME_GROUPS, "unit", "channel", "touchpoint", "survey"})
ALPHA = 0.05
Counts = dict[Key, list[int]]  # key -> [sent, answered]


def _groupable(group: str) -> bool:
    return group in GROUPS or group.startswith("unit_level:")


def _is_unit(group: str) -> bool:
    return group == "unit" or group.startswith("unit_level:")


async def invitation_counts(session: AsyncSession, plan: Plan, piece: Slice) -> Counts:
    """Invitations sent in the slice's window and those answered, by the slice's group keys."""
    model = distribution.Invitation
    start = datetime.combine(piece.date_from, time(), plan.tz)
    end = datetime.combine(piece.date_to + timedelta(days=1), time(), plan.tz)
    answered = func.sum(case((model.responded_at.is_not(None), 1), else_=0))
    timed = any(g in TIME_GROUPS for g in piece.groups)
    dims = [model.unit_id, model.channel, model.touchpoint, model.survey_id]
    # Without a time group the database sums; with one, days are cut in the tenant's timezone here.
    columns = [*dims, model.sent_at] if timed else dims
    statement = select(*columns, func.count(), answered).where(
        model.tenant_id == plan.tenant_id, model.sent_at >= start, model.sent_at < end
    )
    if plan.survey_id:
        statement = statement.where(model.survey_id == plan.survey_id)
    if plan.filters.channels:
        statement = statement.where(model.channel.in_(plan.filters.channels))
    if plan.filters.touchpoints:
        statement = statement.where(model.touchpoint.in_(plan.filters.touchpoints))
    if piece.visible is not None:
        statement = statement.where(model.unit_id.in_(sorted(piece.visible)))
    statement = statement.group_by(*columns)
    counts: Counts = {}
    for row in await session.execute(statement):
        unit_id, channel, touchpoint, survey_id = row[0], row[1], row[2], row[3]
        day = row[4].astimezone(plan.tz).date().isoformat() if timed else ""
        sent, got = int(row[-2]), int(row[-1] or 0)
        for key in _keys(plan, piece, day, unit_id or "", survey_id, channel or "", touchpoint or ""):
            found = counts.setdefault(key, [0, 0])
            found[0] += sent
            found[1] += got
    return counts


def _rate(counts: list[int] | None) -> float | None:
    return round(counts[1] / counts[0] * 100, 2) if counts and counts[0] else None


def _why_not(plan: Plan) -> str | None:
    groups = [g for g in plan.groups if not _groupable(g)]
    if groups:
        return f"response_rate groups by time, unit, channel, touchpoint and survey only, not by {groups[0]}."
    filters = [n for n in FILTERS if n not in ROLLUP_FILTERS and _given(plan.filters, n)]
    if filters:
        return f"response_rate counts invitations, which the {filters[0]} filter does not apply to."
    return None


async def _compared(
    session: AsyncSession, plan: Plan, main: Slice, keys: list[Key], period: dict[str, Any] | None
) -> dict[Key, list[int]]:
    if plan.compare in ("previous_period", "last_year") and period is not None:
        other = Slice(
            date.fromisoformat(period["date_from"]),
            date.fromisoformat(period["date_to"]),
            main.visible,
            main.groups,
            shift_years=1 if plan.compare == "last_year" else 0,
        )
        found = await invitation_counts(session, plan, other)
        return {key: found[key] for key in keys if key in found}
    if plan.compare == "company":
        keep = [i for i, g in enumerate(plan.groups) if not _is_unit(g)]
        everyone = await invitation_counts(
            session, plan, Slice(main.date_from, main.date_to, None, tuple(plan.groups[i] for i in keep))
        )
        short = {key: tuple(key[i] for i in keep) for key in keys}
        return {key: everyone[s] for key, s in short.items() if s in everyone}
    return {}


async def fill_response_rates(
    session: AsyncSession,
    plan: Plan,
    main: Slice,
    keyed_rows: list[tuple[Key, dict[str, Any]]],
    period: dict[str, Any] | None,
) -> list[str]:
    """Set ``response_rate``, ``invitations`` and ``answered`` (and the comparison) on each row."""
    why = _why_not(plan)
    if why is not None:
        for _, row in keyed_rows:
            row.update({METRIC: None, "invitations": None, "answered": None})
        return [why]
    counts = await invitation_counts(session, plan, main)
    for key, row in keyed_rows:
        sent, got = counts.get(key, [0, 0])
        row.update({METRIC: _rate([sent, got]), "invitations": sent, "answered": got})
    if plan.compare is None:
        return []
    others = await _compared(session, plan, main, [k for k, _ in keyed_rows], period)
    raw: list[float] = []
    for key, row in keyed_rows:
        entry = row["compare"][METRIC]
        mine = row[METRIC]
        if plan.compare == "target":
            goal = entry.get("value")
            entry["delta"] = round(mine - goal, 2) if mine is not None and goal is not None else None
            raw.append(math.nan)
            continue
        theirs = others.get(key)
        value = _rate(theirs)
        entry["value"] = value
        entry["delta"] = round(mine - value, 2) if mine is not None and value is not None else None
        if theirs and theirs[0] and counts.get(key, [0])[0]:
            sent, got = counts[key]
            raw.append(stats.two_proportions(got, sent, theirs[1], theirs[0]).p_value)
        else:
            raw.append(math.nan)
    adjusted = stats.CORRECTIONS[plan.correction](raw) if plan.correction != "none" else list(raw)
    for (_, row), p, q in zip(keyed_rows, raw, adjusted, strict=True):
        entry = row["compare"][METRIC]
        if plan.compare != "target":
            entry["p_value"] = None if math.isnan(p) else round(p, 6)
            entry["p_adjusted"] = None if math.isnan(q) else round(q, 6)
            entry["significant"] = None if math.isnan(q) else bool(q < ALPHA)
        if plan.metrics[0] == METRIC:
            row["compare_value"], row["delta"] = entry["value"], entry["delta"]
            if plan.compare != "target":
                row["p_value"], row["significant"] = entry["p_adjusted"], entry["significant"]
    return []
