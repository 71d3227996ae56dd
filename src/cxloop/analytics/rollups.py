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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.analytics.metrics import kpi_scores, shape_of
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

    def measures(self, sign: int) -> dict[str, float]:
        nps, csat, ces = self.nps, self.csat, self.ces
        return {
            "responses": sign,
            "nps_n": sign if nps is not None else 0,
            "nps_pro": sign if nps is not None and nps >= 9 else 0,
            "nps_det": sign if nps is not None and nps <= 6 else 0,
            "csat_n": sign if csat is not None else 0,
            "csat_sum": sign * (csat or 0),
            "csat_sumsq": sign * (csat or 0) ** 2,
            "csat_top2": sign if csat is not None and csat >= 4 else 0,
            "ces_n": sign if ces is not None else 0,
            "ces_sum": sign * (ces or 0),
            "ces_sumsq": sign * (ces or 0) ** 2,
        }


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


async def _contribution(session: AsyncSession, row: Any) -> Contribution | None:
    if row.status != "complete":
        return None
    definition = await published_definition(session, row.survey_id, row.survey_version)
    if definition is None:
        return None
    answers = row.answers if isinstance(row.answers, dict) else {}
    nps, csat, ces = kpi_scores(answers, shape_of(definition))
    zone = await _zone(session, row.tenant_id)
    return Contribution(
        day=row.submitted_at.astimezone(zone).date().isoformat(),
        unit_key=row.unit_id or "",
        survey_id=row.survey_id,
        channel=row.channel,
        touchpoint=row.touchpoint or "",
        nps=nps,
        csat=csat,
        ces=ces,
    )


def _fact_contribution(fact: RollupFact) -> Contribution:
    return Contribution(
        fact.day, fact.unit_key, fact.survey_id, fact.channel, fact.touchpoint, fact.nps, fact.csat, fact.ces
    )


async def _apply(
    session: AsyncSession, tenant_id: str, deltas: dict[tuple[str, ...], dict[str, float]]
) -> None:
    """Add each cell's delta (one upsert per cell), then drop cells left empty."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    emptied = False
    table = Rollup.__table__.c
    for cell, delta in deltas.items():
        if not any(delta.values()):
            continue
        for grain, day in (("d", cell[0]), ("m", cell[0][:7])):
            values = {
                "tenant_id": tenant_id,
                "grain": grain,
                **dict(zip(CELL, (day, *cell[1:]), strict=True)),
            }
            statement = insert(Rollup).values(**values, **delta)
            statement = statement.on_conflict_do_update(
                index_elements=["tenant_id", "grain", *CELL],
                set_={name: table[name] + statement.excluded[name] for name in MEASURES},
            )
            await session.execute(statement)
        emptied = emptied or delta["responses"] < 0
    if emptied:
        await session.execute(delete(Rollup).where(Rollup.tenant_id == tenant_id, Rollup.responses <= 0))


async def refresh_responses(session: AsyncSession, response_ids: Sequence[str]) -> int:
    """Bring the rollups in line with these responses as stored now; returns how many changed."""
    if not response_ids:
        return 0
    rows = (await session.execute(select(*_COLUMNS).where(Response.id.in_(list(response_ids))))).all()
    facts = {
        f.response_id: f
        for f in (
            await session.execute(select(RollupFact).where(RollupFact.response_id.in_(list(response_ids))))
        ).scalars()
    }
    by_id = {row.id: row for row in rows}
    deltas: dict[str, dict[tuple[str, ...], dict[str, float]]] = {}
    changed = 0
    for response_id in response_ids:
        row = by_id.get(response_id)
        new = await _contribution(session, row) if row is not None else None
        fact = facts.get(response_id)
        old = _fact_contribution(fact) if fact is not None else None
        if old == new:
            continue
        changed += 1
        tenant_id = row.tenant_id if row is not None else fact.tenant_id  # type: ignore[union-attr]
        cells = deltas.setdefault(tenant_id, {})
        for contribution, sign in ((old, -1), (new, 1)):
            if contribution is None:
                continue
            cell = cells.setdefault(contribution.cell, dict.fromkeys(MEASURES, 0.0))
            for name, value in contribution.measures(sign).items():
                cell[name] += value
        if new is None:
            await session.execute(delete(RollupFact).where(RollupFact.response_id == response_id))
        elif fact is None:
            session.add(RollupFact(response_id=response_id, tenant_id=tenant_id, **_fact_fields(new)))
        else:
            await session.execute(
                update(RollupFact).where(RollupFact.response_id == response_id).values(**_fact_fields(new))
            )
    await session.flush()
    for tenant_id, cells in deltas.items():
        await _apply(session, tenant_id, cells)
    return changed


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
    """Pipeline and edit subscriber: the response's share of the rollups, now."""
    await refresh_responses(session, [response_id])


Progress = Callable[[int, int], None]


async def rebuild(
    db: Database, tenant_id: str, *, fresh: bool, batch: int = 2000, progress: Progress | None = None
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
        from sqlalchemy import func

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
            ids = list(
                (
                    await session.execute(
                        select(Response.id)
                        .where(
                            Response.tenant_id == tenant_id,
                            Response.status == "complete",
                            Response.id > state.last_response_id,
                        )
                        .order_by(Response.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            if not ids:
                state.finished_at = utc_now()
                await session.commit()
                break
            await refresh_responses(session, ids)
            state.last_response_id = ids[-1]
            state.processed += len(ids)
            processed = state.processed
            await session.commit()
        done_here += len(ids)
        if progress is not None:
            progress(processed, total)
    return done_here
