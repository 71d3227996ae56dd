"""Answering a metrics query whose metrics a registered provider computes
(case metrics, from the cases domain): the body is checked by the same
planner as any metrics query (filters, groups, dates, a unit in scope), then
the provider computes its figures per group within the caller's reach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics.plan import TIME_GROUPS, Plan, make_plan
from cxloop.analytics.registry import Key, MetricProvider, ProviderRequest, provider_of
from cxloop.analytics.schemas import MetricsQuery
from cxloop.analytics.sources import time_key, unit_at_level
from cxloop.identity import Principal, display_name
from cxloop.kit.errors import invalid


def provider_for(query: MetricsQuery) -> MetricProvider | None:
    """The provider of the query's metrics, None when none is provided; mixing is refused."""
    providers = [provider_of(m) for m in query.metrics]
    if all(p is None for p in providers):
        return None
    first = next(p for p in providers if p is not None)
    for index, (metric, provider) in enumerate(zip(query.metrics, providers, strict=True)):
        if provider is None or provider.name != first.name:
            raise invalid(
                f"metrics.{index}",
                f"{metric!r} cannot be asked for with {first.name} metrics in one query; "
                f"ask for {', '.join(first.metrics)} on their own.",
                code="unknown_metric",
            )
    return first


def _group_key(plan: Plan) -> Any:
    def key(at: datetime, unit_id: str | None) -> Key:
        parts: list[Any] = []
        for group in plan.groups:
            if group in TIME_GROUPS:
                parts.append(time_key(group, at.astimezone(plan.tz).date().isoformat()))
            elif group == "unit":
                parts.append(unit_id)
            else:
                parts.append(unit_at_level(plan.units, unit_id, int(group[11:])) if unit_id else None)
        return tuple(parts)

    return key


def _fields(plan: Plan, key: Key, locale: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for group, value in zip(plan.groups, key, strict=True):
        if group in TIME_GROUPS:
            out[group] = value
        else:
            unit = plan.units.get(value) if value else None
            out["unit_code"] = unit.code if unit else None
            out["unit_name"] = display_name(unit.name, locale) if unit else None
    return out


def _sort_key(key: Key) -> tuple[Any, ...]:
    return tuple((0, "") if part is None else (1, str(part)) for part in key)


async def run_provided(
    session: AsyncSession, principal: Principal, query: MetricsQuery, provider: MetricProvider
) -> dict[str, Any]:
    if query.compare is not None:
        raise invalid("compare", f"{provider.name} metrics take no comparison yet.", code="unknown_compare")
    for name in query.filters:
        if name not in provider.filters:
            raise invalid(
                f"filters.{name}",
                f"{provider.name} metrics take the filters {', '.join(provider.filters)} only.",
                code="unknown_filter",
            )
    for index, group in enumerate(query.group_by):
        if group not in provider.groups and not (
            group.startswith("unit_level:") and "unit_level:N" in provider.groups
        ):
            raise invalid(
                f"group_by.{index}",
                f"{provider.name} metrics group by {', '.join(provider.groups)} only.",
                code="unknown_group",
            )
    # The planner checks dates, groups and the unit (404 outside the scope) as for any query.
    plan = await make_plan(session, principal, query.model_copy(update={"metrics": ["n"]}))
    start, end = plan.utc_bounds()
    request = ProviderRequest(
        tenant_id=plan.tenant_id,
        metrics=tuple(dict.fromkeys(query.metrics)),
        groups=tuple(plan.groups),
        date_from=plan.filters.date_from,
        date_to=plan.filters.date_to,
        start=start,
        end=end,
        tz=plan.tz,
        unit_path=plan.filters.unit.path if plan.filters.unit else None,
        group_key=_group_key(plan),
    )
    found = await provider.compute(session, principal, request)
    if not plan.groups and not found:
        found = {(): {"n": 0}}
    rows = [{**_fields(plan, key, principal.locale), **found[key]} for key in sorted(found, key=_sort_key)]
    total = len(rows)
    page = rows[plan.offset : plan.offset + plan.limit]
    return {
        "rows": page,
        "total_rows": total,
        "next_cursor": f"o{plan.offset + plan.limit}" if plan.offset + plan.limit < total else None,
        "source": f"provider:{provider.name}",
        "metrics": list(request.metrics),
        "group_by": plan.groups,
        "compare": None,
        "period": {
            "date_from": plan.filters.date_from.isoformat(),
            "date_to": plan.filters.date_to.isoformat(),
        },
        "min_n": plan.min_n,
        "suppressed_groups": 0,
        "notes": [],
    }
