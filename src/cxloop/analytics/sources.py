"""Reading group statistics from a source: the rollup table (fixed KPIs,
one SQL aggregate) or the raw answer sheets (any metric, read in Python).

Both produce ``{group key: {metric: state}}`` plus the response count of
each group, with the same group keys, so every later step is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.text as text_domain
from cxloop import customers
from cxloop.analytics.metrics import Acc, Shape, State, new_state, observe, shape_of
from cxloop.analytics.models import Rollup
from cxloop.analytics.plan import Plan, UnitInfo
from cxloop.collection import Response
from cxloop.kit.allocation import allocating
from cxloop.kit.errors import invalid
from cxloop.surveys import SurveyDefinition, published_definition

COUNT = "__responses__"
Key = tuple[Any, ...]
Groups = dict[Key, dict[str, State]]
# At most this many raw answer sheets are read for one query.
RAW_LIMIT = 2_000_000


@dataclass(frozen=True)
class Slice:
    """What to read: a date window, the units (None: all, and no unit) and the groups."""

    date_from: date
    date_to: date
    visible: frozenset[str] | None
    groups: tuple[str, ...]
    shift_years: int = 0  # last_year: days are moved forward so their keys match this year's


def time_key(group: str, day: str) -> str:
    if group == "day":
        return day
    if group == "month":
        return day[:7]
    if group == "year":
        return day[:4]
    if group == "quarter":
        return f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}"
    iso = date.fromisoformat(day).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def shift_day(day: str, years: int) -> str:
    if not years:
        return day
    year, rest = int(day[:4]) + years, day[4:]
    if rest == "-02-29":
        rest = "-02-28"
    return f"{year:04d}{rest}"


def unit_at_level(units: dict[str, UnitInfo], unit_id: str, level: int) -> str | None:
    unit = units.get(unit_id)
    if unit is None:
        return None
    ids = [part for part in unit.path.split("/") if part]
    return ids[level] if level < len(ids) else None


def _keys(
    plan: Plan,
    piece: Slice,
    day: str,
    unit_id: str,
    survey_id: str,
    channel: str,
    touchpoint: str,
    extra: dict[str, list[Any]] | None = None,
) -> list[Key]:
    parts: list[list[Any]] = []
    for group in piece.groups:
        if group in ("day", "week", "month", "quarter", "year"):
            parts.append([time_key(group, shift_day(day, piece.shift_years))])
        elif group == "unit":
            parts.append([unit_id or None])
        elif group.startswith("unit_level:"):
            parts.append([unit_at_level(plan.units, unit_id, int(group[11:])) if unit_id else None])
        elif group == "channel":
            parts.append([channel])
        elif group == "touchpoint":
            parts.append([touchpoint or None])
        elif group == "survey":
            parts.append([survey_id])
        else:
            assert extra is not None
            parts.append(extra.get(group) or [None])
    if all(len(options) == 1 for options in parts):
        return [tuple(options[0] for options in parts)]
    keys: list[Key] = [()]
    for options in parts:
        keys = [(*key, option) for key in keys for option in options]
    return keys


def count_of(states: dict[str, State]) -> Acc:
    """The group's response count (always an Acc)."""
    found = states[COUNT]
    assert isinstance(found, Acc)
    return found


def _add(groups: Groups, metrics: Iterable[str], key: Key) -> dict[str, State]:
    found = groups.get(key)
    if found is None:
        found = {metric: new_state(metric) for metric in metrics}
        found[COUNT] = Acc()
        groups[key] = found
    return found


def whole_months(plan: Plan, piece: Slice) -> bool:
    """The window is whole months (its end may be today: nothing is stored after now)."""
    end = piece.date_to + timedelta(days=1)
    return piece.date_from.day == 1 and (end.day == 1 or piece.date_to >= plan.today)


async def read_rollups(session: AsyncSession, plan: Plan, piece: Slice) -> Groups:
    table = Rollup.__table__.c
    time_groups = [g for g in piece.groups if g in ("day", "week", "month", "quarter", "year")]
    monthly = not any(g in ("day", "week") for g in time_groups) and whole_months(plan, piece)
    coarse = monthly or (bool(time_groups) and time_groups[0] in ("month", "quarter", "year"))
    # Whole months read the monthly grain; other windows the daily one, months grouped on the day's prefix.
    day_expr = table.day if monthly or not coarse else func.substr(table.day, 1, 7)
    low, high = piece.date_from.isoformat(), piece.date_to.isoformat()
    if monthly:
        low, high = low[:7], high[:7]
    dims: list[Any] = []
    if time_groups:
        dims.append(day_expr.label("d"))
    wanted = set(piece.groups)
    if "unit" in wanted or any(g.startswith("unit_level:") for g in wanted):
        dims.append(table.unit_key)
    for name, column in (
        ("survey", table.survey_id),
        ("channel", table.channel),
        ("touchpoint", table.touchpoint),
    ):
        if name in wanted:
            dims.append(column)
    sums = [
        func.sum(c).label(c.name)
        for c in (
            table.responses,
            table.nps_n,
            table.nps_pro,
            table.nps_det,
            table.csat_n,
            table.csat_sum,
            table.csat_sumsq,
            table.csat_top2,
            table.ces_n,
            table.ces_sum,
            table.ces_sumsq,
        )
    ]
    statement: Select[Any] = select(*dims, *sums).where(
        table.tenant_id == plan.tenant_id,
        table.grain == ("m" if monthly else "d"),
        table.day >= low,
        table.day <= high,
    )
    if plan.survey_id:
        statement = statement.where(table.survey_id == plan.survey_id)
    if plan.filters.channels:
        statement = statement.where(table.channel.in_(plan.filters.channels))
    if plan.filters.touchpoints:
        statement = statement.where(table.touchpoint.in_(plan.filters.touchpoints))
    if piece.visible is not None:
        statement = statement.where(table.unit_key.in_(sorted(piece.visible)))
    if dims:
        # Unit before day: the order of the (tenant, grain, unit, day) index, so
        # PostgreSQL aggregates its index-only scan as it comes, without a sort.
        unit_first = sorted(dims, key=lambda d: 0 if d is table.unit_key else 1)
        statement = statement.group_by(*unit_first)
    result = await session.execute(statement)
    position = {name: i for i, name in enumerate(result.keys())}
    rows = result.all()
    with allocating():
        return _rollup_groups(plan, piece, rows, position, coarse if time_groups else None)


_COUNT_METRICS = frozenset({"n", "response_count", "response_rate"})


def _rollup_groups(
    plan: Plan, piece: Slice, rows: Sequence[Any], position: dict[str, int], coarse: bool | None
) -> Groups:
    """Rollup aggregates as group states; each SQL row is usually one group, so the
    per-row work is kept to a key tuple and one ``add_counts`` per metric."""
    key_of = _rollup_key(plan, piece, position, coarse)
    at = position
    r, nps_n, pro, det = at["responses"], at["nps_n"], at["nps_pro"], at["nps_det"]
    c_n, c_s, c_ss, c_top = at["csat_n"], at["csat_sum"], at["csat_sumsq"], at["csat_top2"]
    e_n, e_s, e_ss = at["ces_n"], at["ces_sum"], at["ces_sumsq"]
    kinds = [
        (metric, "n" if metric in _COUNT_METRICS else metric)
        for metric in plan.metrics
        if metric in ("nps", "csat", "ces") or metric in _COUNT_METRICS
    ]
    groups: Groups = {}
    for row in rows:
        responses = row[r]
        if responses is None:
            continue
        responses = int(responses)
        key = key_of(row)
        found = groups.get(key)
        if found is None:
            found = {metric: new_state(metric) for metric in plan.metrics}
            found[COUNT] = Acc()
            groups[key] = found
        found[COUNT].add_counts(responses, 0, 0, 0, 0)  # type: ignore[union-attr]
        for metric, kind in kinds:
            state: Any = found[metric]
            if kind == "nps":
                p, d = float(row[pro]), float(row[det])
                state.add_counts(int(row[nps_n]), 100 * (p - d), 10000 * (p + d), p, d)
            elif kind == "csat":
                state.add_counts(int(row[c_n]), row[c_s], row[c_ss], float(row[c_top]), 0)
            elif kind == "ces":
                state.add_counts(int(row[e_n]), row[e_s], row[e_ss], 0, 0)
            else:
                state.add_counts(responses, responses, responses, 0, 0)
    return groups


def _rollup_key(
    plan: Plan, piece: Slice, position: dict[str, int], coarse: bool | None
) -> Callable[[Any], Key]:
    """The group key of one rollup aggregate row, as ``_keys`` would make it."""
    parts: list[Callable[[Any], Any]] = []
    day_at = position.get("d")
    memo: dict[str, str] = {}
    for group in piece.groups:
        if group in ("day", "week", "month", "quarter", "year"):
            assert day_at is not None

            def period(row: Any, group: str = group, at: int = day_at) -> str:
                day = row[at]
                found = memo.get(day)
                if found is None:
                    full = day + "-01" if coarse else day
                    found = memo[day] = time_key(group, shift_day(full, piece.shift_years))
                return found

            parts.append(period)
        elif group == "unit":
            parts.append(_column(position["unit_key"], None))
        elif group.startswith("unit_level:"):
            level = int(group[11:])
            above = {uid: unit_at_level(plan.units, uid, level) for uid in plan.units}
            parts.append(_mapped(position["unit_key"], above))
        elif group == "touchpoint":
            parts.append(_column(position["touchpoint"], None))
        else:
            parts.append(_column(position["survey_id" if group == "survey" else group], ""))
    if len(parts) == 1:
        only = parts[0]
        return lambda row: (only(row),)
    if len(parts) == 2:
        first, second = parts
        return lambda row: (first(row), second(row))
    return lambda row: tuple(part(row) for part in parts)


def _column(at: int, empty: str | None) -> Callable[[Any], Any]:
    def value(row: Any) -> Any:
        return row[at] or empty

    return value


def _mapped(at: int, mapping: dict[str, str | None]) -> Callable[[Any], Any]:
    def value(row: Any) -> Any:
        return mapping.get(row[at]) if row[at] else None

    return value


def _utc_window(plan: Plan, piece: Slice) -> tuple[datetime, datetime]:
    start = datetime.combine(piece.date_from, time(), plan.tz)
    end = datetime.combine(piece.date_to + timedelta(days=1), time(), plan.tz)
    return start, end


async def _response_ids_filter(session: AsyncSession, plan: Plan, statement: Select[Any]) -> Select[Any]:
    """Segment, topic and sentiment filters, through the domains that own them."""
    filters = plan.filters
    if filters.segment is not None:
        contact_ids_of = getattr(customers, "segment_contact_ids", None)
        link = getattr(customers, "ContactResponse", None)
        if contact_ids_of is None or link is None:
            raise invalid("filters.segment", "Segments are not available in this installation yet.")
        contact_ids = await contact_ids_of(session, plan.tenant_id, filters.segment)
        statement = statement.where(
            Response.id.in_(
                select(link.response_id).where(
                    link.tenant_id == plan.tenant_id, link.contact_id.in_(contact_ids)
                )
            )
        )
    if filters.topic is not None:
        topics = getattr(text_domain, "CommentTopic", None)
        if topics is None:
            raise invalid("filters.topic", "Text analytics is not available in this installation yet.")
        statement = statement.where(
            Response.id.in_(
                select(topics.response_id).where(
                    topics.tenant_id == plan.tenant_id,
                    (topics.topic_path == filters.topic)
                    | topics.topic_path.startswith(filters.topic + " > "),
                )
            )
        )
    if filters.sentiment is not None:
        analyses = getattr(text_domain, "CommentAnalysis", None)
        if analyses is None:
            raise invalid("filters.sentiment", "Text analytics is not available in this installation yet.")
        statement = statement.where(
            Response.id.in_(
                select(analyses.response_id).where(
                    analyses.tenant_id == plan.tenant_id, analyses.sentiment == filters.sentiment
                )
            )
        )
    return statement


def _matches(value: Any, wanted: tuple[Any, ...] | dict[str, float]) -> bool:
    if isinstance(wanted, dict):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return value >= wanted.get("gte", -float("inf")) and value <= wanted.get("lte", float("inf"))
    if isinstance(value, list):
        picked = {v.get("choice") if isinstance(v, dict) else v for v in value}
        return any(w in picked for w in wanted)
    if isinstance(value, dict) and "choice" in value:
        value = value["choice"]
    return any(value == w and type(value) is type(w) for w in wanted) or (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and any(isinstance(w, int | float) and not isinstance(w, bool) and value == w for w in wanted)
    )


def _answer_values(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [
            v.get("choice") if isinstance(v, dict) else v for v in value if isinstance(v, str | dict)
        ] or [None]
    if isinstance(value, dict):
        return [value.get("choice")]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    return [None]


@dataclass(frozen=True)
class Sheet:
    """One raw answer sheet that passed every filter."""

    row: Any
    answers: dict[str, Any]
    shape: Shape
    weight: float


async def raw_sheets(session: AsyncSession, plan: Plan, piece: Slice) -> list[Sheet]:
    """The complete responses of the slice that pass every filter, with their survey's shape."""
    start, end = _utc_window(plan, piece)
    statement: Select[Any] = select(
        Response.id,
        Response.survey_id,
        Response.survey_version,
        Response.unit_id,
        Response.channel,
        Response.touchpoint,
        Response.language,
        Response.submitted_at,
        Response.answers,
        Response.embedded,
    ).where(
        Response.tenant_id == plan.tenant_id,
        Response.status == "complete",
        Response.submitted_at >= start,
        Response.submitted_at < end,
    )
    if plan.survey_id:
        statement = statement.where(Response.survey_id == plan.survey_id)
    if plan.filters.channels:
        statement = statement.where(Response.channel.in_(plan.filters.channels))
    if plan.filters.touchpoints:
        statement = statement.where(Response.touchpoint.in_(plan.filters.touchpoints))
    if plan.filters.languages:
        statement = statement.where(Response.language.in_(plan.filters.languages))
    if piece.visible is not None:
        statement = statement.where(Response.unit_id.in_(sorted(piece.visible)))
    statement = await _response_ids_filter(session, plan, statement)
    rows = (await session.execute(statement.limit(RAW_LIMIT + 1))).all()
    if len(rows) > RAW_LIMIT:
        raise invalid(
            "filters",
            f"The query would read more than {RAW_LIMIT:,} responses; narrow the dates or units.",
            code="query_too_large",
        )
    definitions: dict[tuple[str, int], SurveyDefinition | None] = {}
    sheets: list[Sheet] = []
    filters = plan.filters
    for row in rows:
        answers = row.answers if isinstance(row.answers, dict) else {}
        embedded = row.embedded if isinstance(row.embedded, dict) else {}
        if filters.answers and not all(_matches(answers.get(q), w) for q, w in filters.answers.items()):
            continue
        if filters.attributes and not all(
            _matches(embedded.get(k), w) for k, w in filters.attributes.items()
        ):
            continue
        version = (row.survey_id, row.survey_version)
        if version not in definitions:
            definitions[version] = await published_definition(session, row.survey_id, row.survey_version)
        definition = definitions[version]
        if definition is None:
            continue
        sheets.append(Sheet(row, answers, shape_of(definition), _weight(plan, embedded)))
    return sheets


def _weight(plan: Plan, embedded: dict[str, Any]) -> float:
    if plan.weight is None:
        return 1.0
    given = embedded.get(plan.weight)
    try:
        weight = float(given) if given is not None and not isinstance(given, bool) else 1.0
    except (TypeError, ValueError):
        return 1.0
    return weight if 0 < weight < float("inf") else 1.0


async def read_raw(session: AsyncSession, plan: Plan, piece: Slice) -> Groups:
    sheets = await raw_sheets(session, plan, piece)
    topics = await _topics(session, plan, [s.row.id for s in sheets]) if "topic" in piece.groups else {}
    groups: Groups = {}
    for sheet in sheets:
        row, answers = sheet.row, sheet.answers
        extra: dict[str, list[Any]] = {}
        for group in piece.groups:
            if group.startswith("answer:"):
                extra[group] = _answer_values(answers.get(group[7:]))
            elif group == "language":
                extra[group] = [row.language]
            elif group == "topic":
                extra[group] = topics.get(row.id) or [None]
        day = row.submitted_at.astimezone(plan.tz).date().isoformat()
        for key in _keys(
            plan, piece, day, row.unit_id or "", row.survey_id, row.channel, row.touchpoint or "", extra
        ):
            found = _add(groups, plan.metrics, key)
            count_of(found).add(1.0, sheet.weight)
            for metric in plan.metrics:
                observe(metric, found[metric], answers, sheet.shape, sheet.weight, plan.formulas)
    return groups


async def _topics(session: AsyncSession, plan: Plan, response_ids: list[str]) -> dict[str, list[str]]:
    topics = getattr(text_domain, "CommentTopic", None)
    if topics is None:
        raise invalid(
            "group_by", "Text analytics is not available in this installation yet.", code="unknown_group"
        )
    found: dict[str, list[str]] = {}
    for start in range(0, len(response_ids), 500):
        chunk = response_ids[start : start + 500]
        rows = await session.execute(
            select(topics.response_id, topics.topic_path).where(
                topics.tenant_id == plan.tenant_id, topics.response_id.in_(chunk)
            )
        )
        for response_id, path in rows:
            paths = found.setdefault(response_id, [])
            if path not in paths:
                paths.append(path)
    return found


async def read(session: AsyncSession, plan: Plan, piece: Slice, use_rollups: bool) -> Groups:
    return await (read_rollups if use_rollups else read_raw)(session, plan, piece)
