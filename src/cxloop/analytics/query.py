"""The metrics query engine: plan, read (rollups or raw rows), compare,
test, suppress small groups, page. ``run_metrics_query`` answers exactly
what ``POST /api/v1/metrics/query`` answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics import stats
from cxloop.analytics.metrics import (
    Acc,
    State,
    difference_test,
    finish,
    headline,
    merge_state,
    new_state,
    standard_error,
)
from cxloop.analytics.models import Target
from cxloop.analytics.plan import TIME_GROUPS, Plan, UnitInfo, make_plan
from cxloop.analytics.providers import provider_for, run_provided
from cxloop.analytics.response_rate import fill_response_rates
from cxloop.analytics.schemas import MetricsQuery
from cxloop.analytics.sources import COUNT, Groups, Key, Slice, count_of, read
from cxloop.identity import Principal, display_name
from cxloop.kit.allocation import allocating
from cxloop.kit.errors import invalid

ALPHA = 0.05


def _field(group: str) -> str:
    if group == "unit" or group.startswith("unit_level:"):
        return "unit_code"
    if group == "survey":
        return "survey_id"
    return group


def _is_unit(group: str) -> bool:
    return group == "unit" or group.startswith("unit_level:")


def _one_year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _merge_into(target: dict[str, State], source: dict[str, State]) -> None:
    for metric, state in source.items():
        merge_state(target[metric], state)


def _empty(plan: Plan) -> dict[str, State]:
    made: dict[str, State] = {metric: new_state(metric) for metric in plan.metrics}
    made[COUNT] = Acc()
    return made


def _project(groups: Groups, plan: Plan, keep: list[int]) -> Groups:
    """The same statistics grouped by fewer dimensions (positions ``keep``)."""
    projected: Groups = {}
    for key, states in groups.items():
        short = tuple(key[i] for i in keep)
        if short not in projected:
            projected[short] = _empty(plan)
        _merge_into(projected[short], states)
    return projected


def _subtree(groups: Groups, plan: Plan, unit_pos: int, unit: UnitInfo) -> Groups:
    """Per other dimensions, the statistics of ``unit``'s whole subtree (groups keyed by leaf unit)."""
    rest = [i for i in range(len(next(iter(groups), ()))) if i != unit_pos]
    picked: Groups = {}
    for key, states in groups.items():
        leaf = plan.units.get(key[unit_pos]) if key[unit_pos] else None
        if leaf is None or not leaf.path.startswith(unit.path):
            continue
        short = tuple(key[i] for i in rest)
        if short not in picked:
            picked[short] = _empty(plan)
        _merge_into(picked[short], states)
    return picked


async def _comparison(
    session: AsyncSession, plan: Plan, use_rollups: bool, main: Slice, rows: Groups
) -> tuple[dict[Key, dict[str, State]], dict[str, Any] | None]:
    """For each row key, the states it is compared with (and the comparison period)."""
    kind = plan.compare
    found: dict[Key, dict[str, State]] = {}
    if kind in ("previous_period", "last_year"):
        if kind == "previous_period":
            if any(g in TIME_GROUPS for g in plan.groups):
                raise invalid(
                    "compare",
                    "previous_period compares whole periods; drop the time group or compare with last_year.",
                    code="unknown_compare",
                )
            length = (main.date_to - main.date_from).days + 1
            start, end, shift = main.date_from - timedelta(days=length), main.date_from - timedelta(days=1), 0
        else:
            start, end, shift = _one_year_back(main.date_from), _one_year_back(main.date_to), 1
        other = await read(
            session, plan, Slice(start, end, main.visible, main.groups, shift_years=shift), use_rollups
        )
        return {key: other[key] for key in rows if key in other}, {
            "date_from": start.isoformat(),
            "date_to": end.isoformat(),
        }
    unit_pos = next((i for i, g in enumerate(plan.groups) if _is_unit(g)), None)
    if kind == "company":
        keep = [i for i, g in enumerate(plan.groups) if not _is_unit(g)]
        everyone = await read(
            session,
            plan,
            Slice(main.date_from, main.date_to, None, tuple(plan.groups[i] for i in keep)),
            use_rollups,
        )
        for key in rows:
            short = tuple(key[i] for i in keep)
            if short in everyone:
                found[key] = everyone[short]
        return found, None
    if kind == "parent_unit":
        # Statistics by leaf unit within the parents' subtrees (beyond the caller's
        # scope: only aggregates are shown), then summed over each parent's subtree.
        parents: dict[Key, UnitInfo] = {}
        for key in rows:
            unit_id = (
                key[unit_pos]
                if unit_pos is not None
                else (plan.filters.unit.id if plan.filters.unit else None)
            )
            unit = plan.units.get(unit_id) if unit_id else None
            parent = plan.units.get(unit.parent_id) if unit and unit.parent_id else None
            if parent is not None:
                parents[key] = parent
        paths = {p.path for p in parents.values()}
        under = frozenset(u.id for u in plan.units.values() if any(u.path.startswith(p) for p in paths))
        others = [g for g in plan.groups if not _is_unit(g)]
        leaves = await read(
            session, plan, Slice(main.date_from, main.date_to, under, ("unit", *others)), use_rollups
        )
        cache: dict[str, Groups] = {}
        for key, parent in parents.items():
            if parent.id not in cache:
                cache[parent.id] = _subtree(leaves, plan, 0, parent)
            short = tuple(k for i, k in enumerate(key) if i != unit_pos)
            if short in cache[parent.id]:
                found[key] = cache[parent.id][short]
    return found, None


async def _targets(session: AsyncSession, plan: Plan) -> dict[tuple[str, str], float]:
    rows = await session.execute(
        select(Target.unit_key, Target.metric, Target.value).where(Target.tenant_id == plan.tenant_id)
    )
    return {(r.unit_key, r.metric): float(r.value) for r in rows}


def _target_for(
    targets: dict[tuple[str, str], float], plan: Plan, unit_id: str | None, metric: str
) -> float | None:
    """The unit's own target, else its nearest ancestor's, else the tenant's."""
    unit = plan.units.get(unit_id) if unit_id else None
    while unit is not None:
        if (unit.id, metric) in targets:
            return targets[(unit.id, metric)]
        unit = plan.units.get(unit.parent_id) if unit.parent_id else None
    return targets.get(("", metric))


def _fields_maker(plan: Plan, locale: str | None) -> Callable[[Key], dict[str, Any]]:
    """The group fields of a row, with each unit's code and name looked up once per query."""
    named: dict[str, tuple[str | None, str | None]] = {}

    def unit_fields(value: Any) -> tuple[str | None, str | None]:
        found = named.get(value)
        if found is None:
            unit = plan.units.get(value) if value else None
            found = (unit.code, display_name(unit.name, locale)) if unit else (None, None)
            named[value] = found
        return found

    positions = [(_is_unit(group), _field(group)) for group in plan.groups]

    def fields(key: Key) -> dict[str, Any]:
        made: dict[str, Any] = {}
        for (is_unit, name), value in zip(positions, key, strict=True):
            if is_unit:
                made["unit_code"], made["unit_name"] = unit_fields(value)
            else:
                made[name] = value
        return made

    return fields


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sort_key(key: Key) -> tuple[Any, ...]:
    return tuple((0, "") if part is None else (1, str(part)) for part in key)


def _ordered(keys: Iterable[Key]) -> list[Key]:
    """Keys in ``_sort_key`` order; plain tuple order when every part is a text (the same order)."""
    keys = list(keys)
    if all(type(part) is str for key in keys for part in key):
        return sorted(keys)
    return sorted(keys, key=_sort_key)


async def run_metrics_query(
    session: AsyncSession, principal: Principal, query: MetricsQuery
) -> dict[str, Any]:
    """Answer a metrics query within the caller's scope (never commits)."""
    provider = provider_for(query)
    if provider is not None:
        return await run_provided(session, principal, query, provider)
    plan = await make_plan(session, principal, query)
    use_rollups = plan.source == "rollup" or (plan.source == "auto" and plan.wants_rollup())
    main = Slice(plan.filters.date_from, plan.filters.date_to, plan.visible_units, tuple(plan.groups))
    groups = await read(session, plan, main, use_rollups)
    if not plan.groups and not groups:
        groups[()] = _empty(plan)
    notes: list[str] = []
    kept = {key: states for key, states in groups.items() if count_of(states).n >= plan.min_n}
    suppressed = len(groups) - len(kept)
    compared: dict[Key, dict[str, State]] = {}
    period: dict[str, Any] | None = None
    targets: dict[tuple[str, str], float] = {}
    if plan.compare == "target":
        targets = await _targets(session, plan)
    elif plan.compare is not None:
        compared, period = await _comparison(session, plan, use_rollups, main, kept)
    unit_pos = next((i for i, g in enumerate(plan.groups) if _is_unit(g)), None)
    ordered = _ordered(kept)
    fields_of = _fields_maker(plan, principal.locale)
    rows: list[dict[str, Any]] = []
    p_values: dict[str, list[float]] = {metric: [] for metric in plan.metrics}
    with allocating():  # thousands of rows: plain allocation, no collections
        for key in ordered:
            states = kept[key]
            row = fields_of(key)
            row["n"] = count_of(states).n
            for metric in plan.metrics:
                if metric == "response_rate":
                    row["response_rate"] = None  # from the invitations, below
                    continue
                row.update(finish(metric, states[metric]))
            other = compared.get(key)
            if other is not None and count_of(other).n < plan.min_n:
                other = None
            comparisons: dict[str, Any] = {}
            for metric in plan.metrics:
                if plan.compare is None:
                    break
                mine = _number(row.get(metric))
                entry: dict[str, Any] = {"value": None, "delta": None, "p_value": None, "significant": None}
                if plan.compare == "target":
                    unit_id = (
                        key[unit_pos]
                        if unit_pos is not None
                        else (plan.filters.unit.id if plan.filters.unit else None)
                    )
                    goal = _target_for(targets, plan, unit_id, metric)
                    entry["value"] = goal
                    if goal is not None and mine is not None:
                        entry["delta"] = round(mine - goal, 2)
                    p_values[metric].append(math.nan)
                elif other is not None:
                    theirs = headline(metric, other[metric])
                    entry["value"] = theirs
                    if theirs is not None and mine is not None:
                        entry["delta"] = round(mine - theirs, 2)
                    test = difference_test(metric, states[metric], other[metric])
                    p_values[metric].append(test.p_value if test is not None else math.nan)
                else:
                    p_values[metric].append(math.nan)
                comparisons[metric] = entry
            if plan.compare is not None:
                row["compare"] = comparisons
                first = comparisons[plan.metrics[0]]
                row["compare_value"] = first["value"]
                row["delta"] = first["delta"]
            rows.append(row)
    if plan.compare is not None and plan.compare != "target":
        _significance(plan, rows, p_values)
    if "response_rate" in plan.metrics:
        notes.extend(
            await fill_response_rates(session, plan, main, list(zip(ordered, rows, strict=True)), period)
        )
    if plan.anomalies:
        _flag_anomalies(plan, rows, ordered, [kept[k] for k in ordered])
    total = len(rows)
    page = rows[plan.offset : plan.offset + plan.limit]
    answer: dict[str, Any] = {
        "rows": page,
        "total_rows": total,
        "next_cursor": f"o{plan.offset + plan.limit}" if plan.offset + plan.limit < total else None,
        "source": "rollup" if use_rollups else "raw",
        "metrics": plan.metrics,
        "group_by": plan.groups,
        "compare": plan.compare,
        "period": {
            "date_from": plan.filters.date_from.isoformat(),
            "date_to": plan.filters.date_to.isoformat(),
        },
        "min_n": plan.min_n,
        "suppressed_groups": suppressed,
        "notes": notes,
    }
    if period is not None:
        answer["comparison_period"] = period
    if answer["next_cursor"]:
        answer["message"] = (
            f"{total} rows: this page has rows {plan.offset + 1} to {plan.offset + len(page)}; "
            "pass next_cursor as cursor for the next page."
        )
    if suppressed:
        notes.append(
            f"{suppressed} group(s) with fewer than {plan.min_n} responses are not shown (anonymity)."
        )
    return answer


def _significance(plan: Plan, rows: list[dict[str, Any]], p_values: dict[str, list[float]]) -> None:
    for metric in plan.metrics:
        raw = p_values[metric]
        adjusted = stats.CORRECTIONS[plan.correction](raw) if plan.correction != "none" else list(raw)
        for row, p, q in zip(rows, raw, adjusted, strict=True):
            entry = row["compare"][metric]
            entry["p_value"] = None if math.isnan(p) else round(p, 6)
            entry["p_adjusted"] = None if math.isnan(q) else round(q, 6)
            entry["significant"] = None if math.isnan(q) else bool(q < ALPHA)
    for row in rows:
        first = row["compare"][plan.metrics[0]]
        row["p_value"] = first["p_adjusted"]
        row["significant"] = first["significant"]


def _flag_anomalies(
    plan: Plan, rows: list[dict[str, Any]], keys: list[Key], states: list[dict[str, State]]
) -> None:
    """Flag points of each time series (rows alike but for the time group) that leave the control band."""
    time_pos = next((i for i, g in enumerate(plan.groups) if g in TIME_GROUPS), None)
    metric = plan.metrics[0]
    series: dict[Key, list[int]] = {}
    for index, key in enumerate(keys):
        rest = tuple(v for i, v in enumerate(key) if i != time_pos)
        series.setdefault(rest, []).append(index)
    for members in series.values():
        values = [headline(metric, states[i][metric]) for i in members]
        errors = [standard_error(metric, states[i][metric]) for i in members]
        flags = stats.anomalies([math.nan if v is None else float(v) for v in values], errors)
        for i, flag in zip(members, flags, strict=True):
            rows[i]["anomaly"] = flag
