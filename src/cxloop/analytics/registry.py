"""Metrics that higher domains compute and the metrics query API answers.

Analytics sits below cases (and alerts) in the layering, so it cannot read
their tables; instead a domain registers a provider for a few metric names,
and ``POST /api/v1/metrics/query`` hands it the checked window, scope and
groups. This module imports nothing else of analytics, so the planner can
list registered names in its "unknown metric" answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Principal

Key = tuple[Any, ...]


@dataclass(frozen=True)
class ProviderRequest:
    """What a provider computes: its metrics, over a checked window and scope, by groups.

    ``group_key`` turns a record's time and unit into the key of its group (the
    query's time grain in the tenant's timezone, its unit or unit level), so a
    provider groups exactly as the metrics engine does.
    """

    tenant_id: str
    metrics: tuple[str, ...]
    groups: tuple[str, ...]
    date_from: date
    date_to: date
    start: datetime  # date_from 00:00 in the tenant's timezone
    end: datetime  # the day after date_to, 00:00
    tz: ZoneInfo
    unit_path: str | None  # the unit_code filter's subtree
    group_key: Callable[[datetime, str | None], Key]


Compute = Callable[[AsyncSession, Principal, ProviderRequest], Awaitable[dict[Key, dict[str, Any]]]]


@dataclass(frozen=True)
class MetricProvider:
    """``compute`` answers, per group key, a dict of the metrics' fields and ``n`` (records counted)."""

    name: str
    metrics: tuple[str, ...]
    compute: Compute
    groups: tuple[str, ...] = ("day", "week", "month", "quarter", "year", "unit", "unit_level:N")
    filters: tuple[str, ...] = ("date_from", "date_to", "unit_code")
    help: dict[str, str] = field(default_factory=dict)


_providers: dict[str, MetricProvider] = {}


def register_metric_provider(provider: MetricProvider) -> None:
    """Let the metrics query API answer ``provider.metrics`` (registering again replaces)."""
    for metric in provider.metrics:
        known = _providers.get(metric)
        if known is not None and known.name != provider.name:
            raise ValueError(f"metric {metric!r} is already provided by {known.name!r}")
    for metric in [m for m, p in _providers.items() if p.name == provider.name]:
        del _providers[metric]
    for metric in provider.metrics:
        _providers[metric] = provider


def provider_of(metric: str) -> MetricProvider | None:
    return _providers.get(metric)


def provided_help() -> str:
    """ ", name, name ..." for the planner's list of valid metrics (empty when none)."""
    return "".join(f", {name}" for name in sorted(_providers))
