"""Keeping the rollups up to date: the pipeline subscriber, edits, and the
resumable rebuild.

Each response's contribution (its cell and its NPS/CSAT/CES scores) is
remembered in ``analytics_facts``. Refreshing a response compares what it
contributes now with what it contributed before and moves only the
difference, so running twice changes nothing and an edit (or a response
moved to another unit) moves exactly its own share (docs/adr/0020).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, case, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics.metrics import Shape, kpi_scores, shape_of
from cxloop.analytics.models import RebuildState, Rollup, RollupFact
from cxloop.collection import Response
from cxloop.identity import Tenant
from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database
from cxloop.surveys import published_definition

log = logging.getLogger("cxloop.analytics")

CELL = ("day", "unit_key", "survey_id", "channel", "touchpoint")
MEASURES = (
    "responses",
    "nps_n",
    "nps_pro",
    "nps_det",
    "csat_n",
    "csat_sum",
    "csat_sumsq",
    "csat_top2",
    "ces_n",
    "ces_sum",
    "ces_sumsq",
)
_zones: dict[str, ZoneInfo] = {}


@dataclass(frozen=True)
class Contribution:
    day: str
    unit_key: str
    survey_id: str
    channel: str
    touchpoint: str
    nps: int | None
    csat: int | None
    ces: int | None

    @property
    def cell(self) -> tuple[str, str, str, str, str]:
        return (self.day, self.unit_key, self.survey_id, self.channel, self.touchpoint)

    def measures(self, sign: int) -> tuple[int, ...]:
        """``sign`` times what this response adds to its cell, in the order of MEASURES."""
        nps, csat, ces = self.nps, self.csat, self.ces
        return (
            sign,
            sign if nps is not None else 0,
            sign if nps is not None and nps >= 9 else 0,
            sign if nps is not None and nps <= 6 else 0,
            sign if csat is not None else 0,
            sign * (csat or 0),
            sign * (csat or 0) ** 2,
            sign if csat is not None and csat >= 4 else 0,
            sign if ces is not None else 0,
            sign * (ces or 0),
            sign * (ces or 0) ** 2,
        )


async def _zone(session: AsyncSession, tenant_id: str) -> ZoneInfo:
    # Days are local to the tenant; a change of the tenant's zone needs a rebuild.
    zone = _zones.get(tenant_id)
    if zone is None:
        tenant = await session.get(Tenant, tenant_id)
        zone = ZoneInfo(tenant.timezone if tenant is not None else "UTC")
        _zones[tenant_id] = zone
    return zone


_COLUMNS = (
    Response.id,
    Response.tenant_id,
    Response.survey_id,
    Response.survey_version,
    Response.unit_id,
    Response.channel,
    Response.touchpoint,
    Response.submitted_at,
    Response.answers,
    Response.status,
)


Shapes = dict[tuple[str, int], Shape | None]


async def _lookups(session: AsyncSession, rows: Iterable[Any]) -> tuple[Shapes, dict[str, ZoneInfo]]:
    """The KPI shape of every (survey, version) and the zone of every tenant the rows name."""
    shapes: Shapes = {}
    zones: dict[str, ZoneInfo] = {}
    for row in rows:
        version = (row.survey_id, row.survey_version)
        if version not in shapes:
            definition = await published_definition(session, row.survey_id, row.survey_version)
            shapes[version] = shape_of(definition) if definition is not None else None
        if row.tenant_id not in zones:
            zones[row.tenant_id] = await _zone(session, row.tenant_id)
    return shapes, zones


def _contribution(row: Any, shapes: Shapes, zones: dict[str, ZoneInfo]) -> Contribution | None:
    if row.status != "complete":
        return None
    shape = shapes[(row.survey_id, row.survey_version)]
    if shape is None:
        return None
    answers = row.answers if isinstance(row.answers, dict) else {}
    nps, csat, ces = kpi_scores(answers, shape)
    return Contribution(
        day=row.submitted_at.astimezone(zones[row.tenant_id]).date().isoformat(),
        unit_key=row.unit_id or "",
        survey_id=row.survey_id,
        channel=row.channel,
        touchpoint=row.touchpoint or "",
        nps=nps,
        csat=csat,
        ces=ces,
    )


def _fact_contribution(fact: Any) -> Contribution:
    return Contribution(
        fact.day, fact.unit_key, fact.survey_id, fact.channel, fact.touchpoint, fact.nps, fact.csat, fact.ces
    )


# A rollup row's key: tenant, grain, period (day or month), unit, survey, channel, touchpoint.
RowKey = tuple[str, ...]
_FACT_TABLE = cast(Table, RollupFact.__table__)
_ROLLUP_TABLE = cast(Table, Rollup.__table__)
_FACTS = _FACT_TABLE.c
_ROLLUPS = _ROLLUP_TABLE.c
_CHUNK = 5000  # ids per IN list, well under SQLite's bound-parameter limit


def _add_delta(
    deltas: dict[RowKey, list[float]], tenant_id: str, contribution: Contribution, sign: int
) -> None:
    """Add ``sign`` times the contribution to its daily and its monthly rollup row."""
    values = contribution.measures(sign)
    day, rest = contribution.day, contribution.cell[1:]
    for key in ((tenant_id, "d", day, *rest), (tenant_id, "m", day[:7], *rest)):
        found = deltas.get(key)
        if found is None:
            deltas[key] = [float(v) for v in values]
        else:
            for i, value in enumerate(values):
                found[i] += value


async def _apply(session: AsyncSession, deltas: dict[RowKey, list[float]]) -> None:
    """Add every rollup row's delta with one executemany upsert, then drop rows left empty.

    Rows are upserted in key order so concurrent pipeline jobs lock them in
    the same order; each key occurs once, as PostgreSQL's ON CONFLICT requires
    within one statement."""
    params: list[dict[str, Any]] = [
        {**dict(zip(_KEY_NAMES, key, strict=True)), **dict(zip(MEASURES, delta, strict=True))}
        for key, delta in sorted(deltas.items())
        if any(delta)
    ]
    if not params:
        return
    statement = _upsert(session)(_ROLLUP_TABLE)
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY_NAMES),
        set_={name: _ROLLUPS[name] + statement.excluded[name] for name in MEASURES},
    )
    await session.execute(statement, params)
    emptied = sorted({p["tenant_id"] for p in params if p["responses"] < 0})
    for tenant_id in emptied:
        await session.execute(delete(Rollup).where(Rollup.tenant_id == tenant_id, Rollup.responses <= 0))


_KEY_NAMES = ("tenant_id", "grain", *CELL)


def _upsert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def _count_facts(session: AsyncSession, response_ids: list[str]) -> None:
    """Add these (new) facts to their daily and monthly rollup rows, aggregated in SQL."""
    f = _FACTS

    def hits(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    measures = (
        func.count(),
        func.count(f.nps),
        hits(f.nps >= 9),
        hits(f.nps <= 6),
        func.count(f.csat),
        func.coalesce(func.sum(f.csat), 0),
        func.coalesce(func.sum(f.csat * f.csat), 0),
        hits(f.csat >= 4),
        func.count(f.ces),
        func.coalesce(func.sum(f.ces), 0),
        func.coalesce(func.sum(f.ces * f.ces), 0),
    )
    for grain, period in (("d", f.day), ("m", func.substr(f.day, 1, 7))):
        dims = (f.tenant_id, period, f.unit_key, f.survey_id, f.channel, f.touchpoint)
        rows = (
            select(dims[0], literal(grain), *dims[1:], *measures)
            .where(f.response_id.in_(response_ids))
            .group_by(*dims)
            # Rows are locked in key order (all daily before all monthly), so two
            # batches draining at once on PostgreSQL cannot deadlock on them.
            .order_by(*dims)
        )
        statement = _upsert(session)(_ROLLUP_TABLE).from_select([*_KEY_NAMES, *MEASURES], rows)
        statement = statement.on_conflict_do_update(
            index_elements=list(_KEY_NAMES),
            set_={name: _ROLLUPS[name] + statement.excluded[name] for name in MEASURES},
        )
        await session.execute(statement)


async def _facts_of(session: AsyncSession, response_ids: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(response_ids), _CHUNK):
        chunk = list(response_ids[start : start + _CHUNK])
        for fact in await session.execute(select(*_FACTS).where(_FACTS.response_id.in_(chunk))):
            found[fact.response_id] = fact
    return found


async def refresh_responses(session: AsyncSession, response_ids: Sequence[str]) -> int:
    """Bring the rollups in line with these responses as stored now; returns how many changed."""
    if not response_ids:
        return 0
    rows: list[Any] = []
    for start in range(0, len(response_ids), _CHUNK):
        chunk = list(response_ids[start : start + _CHUNK])
        rows.extend((await session.execute(select(*_COLUMNS).where(Response.id.in_(chunk)))).all())
    return await _refresh(session, response_ids, {row.id: row for row in rows})


async def _refresh(session: AsyncSession, response_ids: Sequence[str], by_id: dict[str, Any]) -> int:
    """Move each response's share from what its fact says to what it contributes now.

    Work is set-based: facts are inserted, updated and deleted with one
    statement each and the rollup rows get one executemany upsert, so a
    batch of thousands costs a handful of round trips."""
    facts = await _facts_of(session, response_ids)
    shapes, zones = await _lookups(session, by_id.values())
    deltas: dict[RowKey, list[float]] = {}
    added: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    gone: list[str] = []
    changed = 0
    for response_id in dict.fromkeys(response_ids):
        row = by_id.get(response_id)
        new = _contribution(row, shapes, zones) if row is not None else None
        fact = facts.get(response_id)
        old = _fact_contribution(fact) if fact is not None else None
        if old == new:
            continue
        changed += 1
        source: Any = row if row is not None else fact  # old != new: one of them exists
        tenant_id = str(source.tenant_id)
        if new is not None and old is None:
            # Counted below from its new fact, in SQL (a rebuild's batch is all of this kind).
            added.append({"response_id": response_id, "tenant_id": tenant_id, **_fact_fields(new)})
            continue
        if old is not None:
            _add_delta(deltas, tenant_id, old, -1)
        if new is not None:
            _add_delta(deltas, tenant_id, new, 1)
            moved.append({"b_response_id": response_id, **_fact_fields(new)})
        else:
            gone.append(response_id)
    for start in range(0, len(gone), _CHUNK):
        await session.execute(
            delete(RollupFact).where(RollupFact.response_id.in_(gone[start : start + _CHUNK]))
        )
    if added:
        await session.execute(_FACT_TABLE.insert(), added)
        ids = [fact["response_id"] for fact in added]
        for start in range(0, len(ids), _CHUNK):
            await _count_facts(session, ids[start : start + _CHUNK])
    if moved:
        await session.execute(
            update(_FACT_TABLE)
            .where(_FACTS.response_id == bindparam("b_response_id"))
            .values({name: bindparam(name) for name in _FACT_NAMES}),
            moved,
        )
    await _apply(session, deltas)
    return changed


_FACT_NAMES = ("day", "unit_key", "survey_id", "channel", "touchpoint", "nps", "csat", "ces")


def _fact_fields(contribution: Contribution) -> dict[str, Any]:
    return {
        "day": contribution.day,
        "unit_key": contribution.unit_key,
        "survey_id": contribution.survey_id,
        "channel": contribution.channel,
        "touchpoint": contribution.touchpoint,
        "nps": contribution.nps,
        "csat": contribution.csat,
        "ces": contribution.ces,
    }


async def on_response(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    """Edit subscriber: the response's share of the rollups, now."""
    await refresh_responses(session, [response_id])


async def on_responses(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Pipeline subscriber (set-based): the shares of a whole batch of stored responses."""
    await refresh_responses(session, [response_id for response_id, _payload in items])


Progress = Callable[[int, int], None]


async def rebuild(
    db: Database, tenant_id: str, *, fresh: bool, batch: int = 5000, progress: Progress | None = None
) -> int:
    """Rebuild one tenant's rollups from its responses, in batches of ``batch``
    responses committed with a checkpoint: after an interruption, running
    again without ``fresh`` resumes after the last committed batch.
    Returns the number of responses processed in this run."""
    async with db.session(write=True) as session:
        state = await session.get(RebuildState, tenant_id)
        if fresh or state is None or state.finished_at is not None:
            await session.execute(delete(Rollup).where(Rollup.tenant_id == tenant_id))
            await session.execute(delete(RollupFact).where(RollupFact.tenant_id == tenant_id))
            await session.execute(delete(RebuildState).where(RebuildState.tenant_id == tenant_id))
            session.add(
                RebuildState(tenant_id=tenant_id, started_at=utc_now(), last_response_id="", processed=0)
            )
        await session.commit()
    async with db.session(write=False) as session:
        total = int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(Response)
                    .where(Response.tenant_id == tenant_id, Response.status == "complete")
                )
            ).scalar_one()
        )
    done_here = 0
    while True:
        async with db.session(write=True) as session:
            state = await session.get(RebuildState, tenant_id)
            assert state is not None
            rows = (
                await session.execute(
                    select(*_COLUMNS)
                    .where(
                        Response.tenant_id == tenant_id,
                        Response.status == "complete",
                        Response.id > state.last_response_id,
                    )
                    .order_by(Response.id)
                    .limit(batch)
                )
            ).all()
            ids = [row.id for row in rows]
            if not ids:
                state.finished_at = utc_now()
                await session.commit()
                break
            await _refresh(session, ids, {row.id: row for row in rows})
            state.last_response_id = ids[-1]
            state.processed += len(ids)
            processed = state.processed
            await session.commit()
        done_here += len(ids)
        if progress is not None:
            progress(processed, total)
    return done_here
