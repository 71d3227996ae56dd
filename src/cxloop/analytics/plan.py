"""Checking a metrics query and turning it into a plan: the metrics, the
filters, the groups, the comparison, the caller's units and the source.

Everything the caller named is checked here, so an unknown metric, filter
or group answers a 422 listing the valid names before any data is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from cxloop.analytics.metrics import (
    CUSTOM_NAME,
    FIXED,
    METRIC_HELP,
    PREFIXED,
    ROLLUP_METRICS,
    Formula,
    compile_formula,
)
from cxloop.analytics.models import TenantAnalyticsSettings
from cxloop.analytics.registry import provided_help
from cxloop.analytics.schemas import MetricsQuery
from cxloop.identity import Perm, Principal, Reach, Tenant, Unit
from cxloop.kit.clock import EARLIEST_DAY, LATEST_DAY, reportable, utc_now
from cxloop.kit.errors import invalid, not_found
from cxloop.kit.numbers import ascii_digits
from cxloop.kit.settings import get_settings

FILTERS = (
    "date_from",
    "date_to",
    "unit_code",
    "channel",
    "touchpoint",
    "language",
    "segment",
    "attributes",
    "answers",
    "topic",
    "sentiment",
)
ROLLUP_FILTERS = frozenset({"date_from", "date_to", "unit_code", "channel", "touchpoint"})
TIME_GROUPS = ("day", "week", "month", "quarter", "year")
GROUPS = (
    *TIME_GROUPS,
    "unit",
    "unit_level:N",
    "channel",
    "touchpoint",
    "survey",
    "language",
    "answer:QUESTION",
    "topic",
)
ROLLUP_GROUPS = frozenset({*TIME_GROUPS, "unit", "unit_level", "channel", "touchpoint", "survey"})
COMPARES = ("previous_period", "last_year", "parent_unit", "company", "target")
QUESTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}(\.[A-Za-z][A-Za-z0-9_]{0,63})?$")
TEXT = re.compile(r"^[^\x00-\x1f]{1,64}$")
SENTIMENTS = ("negative", "neutral", "positive")
# Without dates, a query covers this many whole months up to today.
DEFAULT_MONTHS = 36


@dataclass(frozen=True)
class UnitInfo:
    id: str
    code: str
    path: str
    depth: int
    parent_id: str | None
    name: dict[str, str]


@dataclass
class Filters:
    date_from: date
    date_to: date
    unit: UnitInfo | None = None
    channels: tuple[str, ...] = ()
    touchpoints: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    segment: str | None = None
    attributes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    answers: dict[str, tuple[Any, ...] | dict[str, float]] = field(default_factory=dict)
    topic: str | None = None
    sentiment: str | None = None
    dated: bool = False  # the caller gave dates


@dataclass
class Plan:
    tenant_id: str
    tz: ZoneInfo
    metrics: list[str]
    survey_id: str | None
    filters: Filters
    groups: list[str]  # "month", "unit", "unit_level:2", "answer:q1", ...
    compare: str | None
    formulas: dict[str, Formula]
    weight: str | None
    correction: str
    anomalies: bool
    source: str
    limit: int
    offset: int
    min_n: int
    reach: Reach
    units: dict[str, UnitInfo]
    unit_codes: dict[str, UnitInfo]
    visible_units: frozenset[str] | None  # None: every unit, and responses with none
    today: date

    def wants_rollup(self) -> bool:
        used = {name for name in FILTERS if _given(self.filters, name)}
        return (
            set(self.metrics) <= ROLLUP_METRICS
            and used <= ROLLUP_FILTERS
            and all(g.split(":")[0] in ROLLUP_GROUPS for g in self.groups)
            and self.weight is None
        )

    def utc_bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.filters.date_from, time(), self.tz)
        end = datetime.combine(self.filters.date_to + timedelta(days=1), time(), self.tz)
        return start, end


def _given(filters: Filters, name: str) -> bool:
    value = {
        "date_from": filters.dated,
        "date_to": filters.dated,
        "unit_code": filters.unit,
        "channel": filters.channels,
        "touchpoint": filters.touchpoints,
        "language": filters.languages,
        "segment": filters.segment,
        "attributes": filters.attributes,
        "answers": filters.answers,
        "topic": filters.topic,
        "sentiment": filters.sentiment,
    }[name]
    return bool(value)


def _months_before(end: date) -> date:
    """The first day of the month DEFAULT_MONTHS - 1 months before ``end``'s."""
    months = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def _texts(name: str, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > 100 or not all(isinstance(v, str) and TEXT.match(v) for v in values):
        raise invalid(f"filters.{name}", f"{name} takes a text or a list of up to 100 texts.")
    return tuple(values)


def _day(name: str, value: Any) -> date:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_day(name)
    except ValueError:
        return _bad_day(name)
    if not reportable(day):
        raise invalid(
            f"filters.{name}",
            f"{name} must lie between {EARLIEST_DAY} and {LATEST_DAY}.",
            code="invalid_date",
        )
    return day


def _bad_day(name: str) -> date:
    raise invalid(f"filters.{name}", f"{name} must be a date such as 2026-01-31.", code="invalid_date")


def _scalars(path: str, value: Any) -> tuple[Any, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > 100 or not all(isinstance(v, str | int | float | bool) for v in values):
        raise invalid(path, "takes a value or a list of up to 100 values (texts, numbers, true/false).")
    return tuple(values)


def _answer_filter(path: str, value: Any) -> tuple[Any, ...] | dict[str, float]:
    if isinstance(value, dict):
        if (
            not value
            or set(value) - {"gte", "lte"}
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
        ):
            raise invalid(path, 'A range is {"gte": number, "lte": number} (either or both).')
        return {k: float(v) for k, v in value.items()}
    return _scalars(path, value)


_UNITS = "cxloop.analytics.units"


async def _units(session: AsyncSession, tenant_id: str) -> dict[str, UnitInfo]:
    """The tenant's units, read once per transaction: a dashboard's widgets share them.

    Any write through the session and the end of the transaction forget them,
    so nothing plans with a tree older than its own transaction."""
    cache: dict[str, dict[str, UnitInfo]] = session.info.setdefault(_UNITS, {})
    found = cache.get(tenant_id)
    if found is None:
        rows = await session.execute(
            select(Unit.id, Unit.code, Unit.path, Unit.depth, Unit.parent_id, Unit.names).where(
                Unit.tenant_id == tenant_id
            )
        )
        found = {r.id: UnitInfo(r.id, r.code, r.path, r.depth, r.parent_id, dict(r.names)) for r in rows}
        cache[tenant_id] = found
    return found


@event.listens_for(Session, "after_flush")
def _forget_units_after_flush(session: Session, _context: Any) -> None:
    session.info.pop(_UNITS, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_units_after_transaction(session: Session) -> None:
    # A new transaction may see units others changed meanwhile.
    session.info.pop(_UNITS, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_units(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info.pop(_UNITS, None)


async def tenant_min_n(session: AsyncSession, tenant_id: str) -> int:
    override = await session.get(TenantAnalyticsSettings, tenant_id)
    return override.min_n if override is not None else get_settings().analytics_min_n


def _check_metrics(query: MetricsQuery) -> tuple[list[str], dict[str, Formula]]:
    formulas: dict[str, Formula] = {}
    for name, text in query.custom_metrics.items():
        if not CUSTOM_NAME.match(name):
            raise invalid(
                f"custom_metrics.{name}", "A custom metric's name is a letter then letters, digits or _."
            )
        formulas[name], _ = compile_formula(text, f"custom_metrics.{name}")
    metrics: list[str] = []
    for index, metric in enumerate(query.metrics):
        head, sep, arg = metric.partition(":")
        ok = (not sep and metric in FIXED) or (
            sep and head in PREFIXED and (arg in formulas if head == "custom" else bool(QUESTION.match(arg)))
        )
        if not ok:
            hint = f" ({arg!r} is not in custom_metrics)" if head == "custom" and sep else ""
            raise invalid(
                f"metrics.{index}",
                f"Unknown metric {metric!r}{hint}; valid metrics: {METRIC_HELP}{provided_help()}.",
                code="unknown_metric",
            )
        if metric not in metrics:
            metrics.append(metric)
    return metrics, formulas


def _check_groups(query: MetricsQuery) -> list[str]:
    groups: list[str] = []
    for index, group in enumerate(query.group_by):
        head, sep, arg = group.partition(":")
        ok = (
            (
                not sep
                and head
                in (
                    "day",
                    "week",
                    "month",
                    "quarter",
                    "year",
                    "unit",
                    "channel",
                    "touchpoint",
                    "survey",
                    "language",
                    "topic",
                )
            )
            or (head == "unit_level" and ascii_digits(arg, 2) and int(arg) < 12)
            or (head == "answer" and bool(QUESTION.match(arg)))
        )
        if not ok:
            raise invalid(
                f"group_by.{index}",
                f"Unknown group {group!r}; valid groups: {', '.join(GROUPS)}.",
                code="unknown_group",
            )
        if group in groups:
            raise invalid(f"group_by.{index}", f"{group!r} is named twice.", code="unknown_group")
        groups.append(group)
    if sum(g in TIME_GROUPS for g in groups) > 1:
        raise invalid(
            "group_by", "Group by at most one of day, week, month, quarter, year.", code="unknown_group"
        )
    if sum(g == "unit" or g.startswith("unit_level:") for g in groups) > 1:
        raise invalid("group_by", "Group by unit or by one unit_level, not both.", code="unknown_group")
    return groups


async def make_plan(
    session: AsyncSession, principal: Principal, query: MetricsQuery, today: date | None = None
) -> Plan:
    """The checked plan of ``query``. ``today`` defaults to the tenant's local
    date: days are local, so the UTC date would leave out a Shanghai tenant's
    answers of today for the eight hours after 16:00 UTC."""
    principal.require(Perm.DATA_READ)
    metrics, formulas = _check_metrics(query)
    groups = _check_groups(query)
    if query.compare is not None and query.compare not in COMPARES:
        raise invalid(
            "compare",
            f"Unknown comparison {query.compare!r}; valid: {', '.join(COMPARES)}.",
            code="unknown_compare",
        )
    unknown = sorted(set(query.filters) - set(FILTERS))
    if unknown:
        raise invalid(
            f"filters.{unknown[0]}",
            f"Unknown filter {unknown[0]!r}; valid filters: {', '.join(FILTERS)}.",
            code="unknown_filter",
        )
    tenant = await session.get(Tenant, principal.tenant_id)
    assert tenant is not None
    tz = ZoneInfo(tenant.timezone)
    if today is None:
        today = utc_now().astimezone(tz).date()
    units = await _units(session, principal.tenant_id)
    codes = {u.code: u for u in units.values()}
    reach = principal.reach(Perm.DATA_READ)
    given = query.filters
    date_to = _day("date_to", given["date_to"]) if "date_to" in given else today
    date_from = _day("date_from", given["date_from"]) if "date_from" in given else _months_before(date_to)
    if date_from > date_to:
        raise invalid("filters.date_from", "date_from is after date_to.", code="reversed_dates")
    if (date_to - date_from).days > 366 * 20:
        raise invalid("filters.date_from", "A query covers at most 20 years.", code="invalid_date")
    filters = Filters(date_from=date_from, date_to=date_to, dated="date_from" in given or "date_to" in given)
    if "unit_code" in given:
        code = given["unit_code"]
        unit = codes.get(code) if isinstance(code, str) else None
        if unit is None or not reach.covers(unit.id, unit.path):
            raise not_found("unit")
        filters.unit = unit
    if "channel" in given:
        filters.channels = _texts("channel", given["channel"])
    if "touchpoint" in given:
        filters.touchpoints = _texts("touchpoint", given["touchpoint"])
    if "language" in given:
        filters.languages = _texts("language", given["language"])
    if "segment" in given:
        filters.segment = _texts("segment", given["segment"])[0]
    if "topic" in given:
        filters.topic = _texts("topic", given["topic"])[0]
    if "sentiment" in given:
        if given["sentiment"] not in SENTIMENTS:
            raise invalid("filters.sentiment", f"sentiment is one of {', '.join(SENTIMENTS)}.")
        filters.sentiment = given["sentiment"]
    for name in ("attributes", "answers"):
        if name not in given:
            continue
        if not isinstance(given[name], dict) or not 0 < len(given[name]) <= 20:
            raise invalid(f"filters.{name}", f"{name} is an object of up to 20 names and values.")
        for key, value in given[name].items():
            if not QUESTION.match(key):
                raise invalid(f"filters.{name}.{key}", f"{key!r} is not a field or question id.")
            if name == "answers":
                filters.answers[key] = _answer_filter(f"filters.answers.{key}", value)
            else:
                filters.attributes[key] = _scalars(f"filters.attributes.{key}", value)
    if query.compare == "parent_unit" and not (
        filters.unit or any(g == "unit" or g.startswith("unit_level:") for g in groups)
    ):
        raise invalid(
            "compare", "parent_unit needs a unit_code filter or a unit group.", code="unknown_compare"
        )
    offset = _offset(query.cursor)
    visible = _visible(units, reach, filters.unit)
    if query.source == "rollup" and not (
        set(metrics) <= ROLLUP_METRICS
        and {n for n in FILTERS if _given(filters, n)} <= ROLLUP_FILTERS
        and all(g.split(":")[0] in ROLLUP_GROUPS for g in groups)
        and query.weight is None
    ):
        raise invalid("source", "This query needs raw responses; rollups keep only the fixed KPIs.")
    return Plan(
        tenant_id=principal.tenant_id,
        tz=tz,
        metrics=metrics,
        survey_id=query.survey_id,
        filters=filters,
        groups=groups,
        compare=query.compare,
        formulas=formulas,
        weight=query.weight,
        correction=query.correction,
        anomalies=query.anomalies,
        source=query.source,
        limit=query.limit,
        offset=offset,
        min_n=await tenant_min_n(session, principal.tenant_id),
        reach=reach,
        units=units,
        unit_codes=codes,
        visible_units=visible,
        today=today,
    )


def _visible(units: dict[str, UnitInfo], reach: Reach, scope: UnitInfo | None) -> frozenset[str] | None:
    if reach.everywhere and scope is None:
        return None
    return frozenset(
        u.id
        for u in units.values()
        if reach.covers(u.id, u.path) and (scope is None or u.path.startswith(scope.path))
    )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.startswith("o") or not ascii_digits(cursor[1:], 11):
        raise invalid("cursor", "The cursor is not valid.", code="invalid_cursor")
    return int(cursor[1:])
