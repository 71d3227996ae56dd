"""Synthetic CX data for the analytics benchmark: one tenant, a unit tree
(HQ > regions > stores), one NPS/CSAT/CES survey and N responses spread over
M months, written in bulk (PostgreSQL COPY, SQLite executemany), with the
rollups the pipeline would keep computed in the same pass.

Also used on its own: ``python bench/analytics_data.py --responses 100000``
prints the time per step on a scratch database.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import create_engine, text

from cxloop.identity.audit import Actor
from cxloop.identity.tenants import create_tenant
from cxloop.identity.units import create_unit
from cxloop.kit.db import Database, sync_url
from cxloop.kit.ids import new_id
from cxloop.surveys import Survey, SurveyVersion

DEFINITION: dict[str, Any] = {
    "title": {"zh-CN": "门店体验", "en": "Store experience"},
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "rec", "type": "nps", "text": {"zh-CN": "推荐", "en": "Recommend"}},
                {"id": "sat", "type": "csat", "text": {"zh-CN": "满意", "en": "Satisfied"}},
                {"id": "effort", "type": "ces", "text": {"zh-CN": "省力", "en": "Effort"}},
            ],
        }
    ],
}
CHANNELS = ("web", "sms")
TOUCHPOINTS = ("checkout", "delivery")


@dataclass
class Dataset:
    tenant_id: str
    survey_id: str
    unit_ids: list[str]  # stores
    unit_codes: list[str]
    unit_paths: list[str]
    regions: list[str]
    first_day: date
    last_day: date
    frame: pl.DataFrame  # one row per response: day, unit, channel, touchpoint, nps, csat, ces


async def _setup(url: str, units: int) -> tuple[str, str, list[tuple[str, str, str]], list[str]]:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            tenant = await create_tenant(session, slug="bench", name="Bench Retail")
            actor = Actor(tenant_id=tenant.id, label="bench")
            names = {"zh-CN": "总部", "en": "HQ"}
            await create_unit(
                session, tenant, code="HQ", names=names, parent_code=None, kind="hq", actor=actor
            )
            regions = max(1, units // 50)
            stores: list[tuple[str, str, str]] = []
            region_codes = []
            for r in range(regions):
                code = f"R{r:02d}"
                region_codes.append(code)
                await create_unit(
                    session,
                    tenant,
                    code=code,
                    names={"en": code},
                    parent_code="HQ",
                    kind="region",
                    actor=actor,
                )
            for s in range(units - 1 - regions):
                code = f"S{s:04d}"
                unit = await create_unit(
                    session,
                    tenant,
                    code=code,
                    names={"en": code},
                    parent_code=region_codes[s % regions],
                    kind="store",
                    actor=actor,
                )
                stores.append((unit.id, unit.code, unit.path))
            now = datetime.now(UTC)
            survey = Survey(
                id=new_id(),
                tenant_id=tenant.id,
                status="published",
                current_version=1,
                published_version=1,
                created_at=now,
                updated_at=now,
                created_by="bench",
            )
            session.add(survey)
            await session.flush()
            session.add(
                SurveyVersion(
                    survey_id=survey.id, version=1, definition=DEFINITION, published_at=now, created_at=now
                )
            )
            await session.commit()
            return tenant.id, survey.id, stores, region_codes
    finally:
        await db.dispose()


def _frame(responses: int, stores: int, months: int, seed: int) -> tuple[pl.DataFrame, date, date]:
    rng = np.random.default_rng(seed)
    last = date.today() - timedelta(days=1)
    first_month = (last.year * 12 + last.month - 1) - (months - 1)
    first = date(first_month // 12, first_month % 12 + 1, 1)
    days = (last - first).days + 1
    unit = rng.integers(0, stores, responses)
    bias = (unit % 7 - 3) * 0.25
    nps = np.clip(np.round(rng.normal(7.6 + bias, 2.2)), 0, 10).astype(np.int64)
    csat = np.clip(np.round(rng.normal(3.9 + bias / 3, 1.0)), 1, 5).astype(np.int64)
    ces = np.clip(np.round(rng.normal(5.0, 1.4)), 1, 7).astype(np.int64)
    offset = rng.integers(0, days * 86400, responses)
    frame = pl.DataFrame(
        {
            "unit": unit,
            "offset": offset,
            "channel": rng.integers(0, len(CHANNELS), responses),
            "touchpoint": rng.integers(0, len(TOUCHPOINTS), responses),
            "nps": nps,
            "csat": np.where(rng.random(responses) < 0.85, csat, -1),
            "ces": np.where(rng.random(responses) < 0.7, ces, -1),
        }
    )
    start = datetime(first.year, first.month, first.day)  # local midnight, Asia/Shanghai
    frame = frame.with_columns(
        (pl.lit(start) + pl.duration(seconds=pl.col("offset"))).alias("local"),
    ).with_columns(pl.col("local").dt.strftime("%Y-%m-%d").alias("day"))
    return frame, first, last


def _rollups(data: Dataset) -> pl.DataFrame:
    f = data.frame
    ids = pl.Series(data.unit_ids)
    base = f.with_columns(
        ids.gather(f["unit"]).alias("unit_key"),
        pl.col("channel").replace_strict(dict(enumerate(CHANNELS)), return_dtype=pl.Utf8).alias("ch"),
        pl.col("touchpoint").replace_strict(dict(enumerate(TOUCHPOINTS)), return_dtype=pl.Utf8).alias("tp"),
    )
    sums = [
        pl.len().alias("responses"),
        pl.len().alias("nps_n"),
        (pl.col("nps") >= 9).sum().alias("nps_pro"),
        (pl.col("nps") <= 6).sum().alias("nps_det"),
        (pl.col("csat") > 0).sum().alias("csat_n"),
        pl.col("csat").clip(0).sum().cast(pl.Float64).alias("csat_sum"),
        (pl.col("csat").clip(0) ** 2).sum().cast(pl.Float64).alias("csat_sumsq"),
        (pl.col("csat") >= 4).sum().alias("csat_top2"),
        (pl.col("ces") > 0).sum().alias("ces_n"),
        pl.col("ces").clip(0).sum().cast(pl.Float64).alias("ces_sum"),
        (pl.col("ces").clip(0) ** 2).sum().cast(pl.Float64).alias("ces_sumsq"),
    ]
    out = []
    for grain, key in (("d", pl.col("day")), ("m", pl.col("day").str.slice(0, 7))):
        grouped = (
            base.with_columns(key.alias("period")).group_by(["period", "unit_key", "ch", "tp"]).agg(sums)
        )
        out.append(grouped.with_columns(pl.lit(grain).alias("grain")))
    return pl.concat(out)


def _response_rows(data: Dataset, first_id: int) -> pl.DataFrame:
    f = data.frame

    def part(name: str, column: str) -> pl.Expr:
        value = pl.concat_str([pl.lit(f', "{name}": '), pl.col(column).cast(pl.Utf8)])
        return pl.when(pl.col(column) > 0).then(value).otherwise(pl.lit(""))

    answers = pl.concat_str(
        [
            pl.lit('{"rec": '),
            pl.col("nps").cast(pl.Utf8),
            part("sat", "csat"),
            part("effort", "ces"),
            pl.lit("}"),
        ]
    )
    utc = (pl.col("local") - pl.duration(hours=8)).dt.strftime("%Y-%m-%d %H:%M:%S+00")
    return pl.DataFrame(
        {
            # Vectorised: a Python call per id was most of the load time.
            "id": pl.select(
                pl.concat_str(
                    [pl.lit("B"), pl.int_range(first_id, first_id + f.height).cast(pl.Utf8).str.zfill(25)]
                )
            ).to_series(),
        }
    ).with_columns(
        pl.lit(data.tenant_id).alias("tenant_id"),
        pl.lit(data.survey_id).alias("survey_id"),
        pl.lit(1).alias("survey_version"),
        pl.Series(data.unit_ids).gather(f["unit"]).alias("unit_id"),
        f["channel"].replace_strict(dict(enumerate(CHANNELS)), return_dtype=pl.Utf8).alias("channel"),
        f["touchpoint"]
        .replace_strict(dict(enumerate(TOUCHPOINTS)), return_dtype=pl.Utf8)
        .alias("touchpoint"),
        pl.lit("zh-CN").alias("language"),
        f.select(utc).to_series().alias("submitted_at"),
        f.select(utc).to_series().alias("received_at"),
        f.select(answers).to_series().alias("answers"),
        pl.lit("{}").alias("embedded"),
        pl.lit("{}").alias("contact_ref"),
        pl.lit("import").alias("source"),
        pl.lit("complete").alias("status"),
        pl.lit(0).alias("revision"),
    )


RESPONSE_COLUMNS = (
    "id", "tenant_id", "survey_id", "survey_version", "unit_id", "channel", "touchpoint", "language",
    "submitted_at", "received_at", "answers", "embedded", "contact_ref", "source", "status", "revision",
)  # fmt: skip
ROLLUP_COLUMNS = (
    "tenant_id", "grain", "period", "unit_key", "survey_id", "ch", "tp", "responses", "nps_n", "nps_pro",
    "nps_det", "csat_n", "csat_sum", "csat_sumsq", "csat_top2", "ces_n", "ces_sum", "ces_sumsq",
)  # fmt: skip
ROLLUP_TABLE_COLUMNS = (
    "tenant_id, grain, day, unit_key, survey_id, channel, touchpoint, responses, nps_n, nps_pro, nps_det, "
    "csat_n, csat_sum, csat_sumsq, csat_top2, ces_n, ces_sum, ces_sumsq"
)


def _write(url: str, data: Dataset, chunk: int, log: Any) -> None:
    rollups = _rollups(data).with_columns(
        pl.lit(data.tenant_id).alias("tenant_id"), pl.lit(data.survey_id).alias("survey_id")
    )
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            postgres = engine.dialect.name == "postgresql"
            started = time.perf_counter()
            for start in range(0, data.frame.height, chunk):
                part = _response_rows(
                    Dataset(**{**data.__dict__, "frame": data.frame.slice(start, chunk)}), start
                )
                _load(raw, postgres, "responses", ", ".join(RESPONSE_COLUMNS), part.select(RESPONSE_COLUMNS))
                done = start + part.height
                rate = done / (time.perf_counter() - started)
                log(f"responses {done:,}/{data.frame.height:,} ({rate:,.0f}/s)")
            _load(raw, postgres, "analytics_rollups", ROLLUP_TABLE_COLUMNS, rollups.select(ROLLUP_COLUMNS))
            log(f"rollups: {rollups.height:,} rows")
            cursor = raw.cursor()
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        engine.dispose()


def _load(raw: Any, postgres: bool, table: str, columns: str, frame: pl.DataFrame) -> None:
    cursor = raw.cursor()
    if postgres:
        buffer = io.StringIO()
        frame.write_csv(buffer, include_header=False)
        buffer.seek(0)
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            while block := buffer.read(1 << 20):
                copy.write(block)
    else:
        if table == "responses":
            frame = frame.with_columns(
                pl.col("submitted_at").str.slice(0, 19), pl.col("received_at").str.slice(0, 19)
            )
        marks = ", ".join("?" for _ in frame.columns)
        cursor.execute("BEGIN")
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", frame.iter_rows())
        cursor.execute("COMMIT")
    if postgres:
        raw.commit()


def _existing(url: str) -> tuple[str, str, list[tuple[str, str, str]], list[str]] | None:
    """The bench tenant a previous ``generate`` left in this database, if any."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            tenant = conn.execute(text("SELECT id FROM tenants WHERE slug = 'bench'")).scalar()
            if tenant is None:
                return None
            survey = conn.execute(
                text("SELECT id FROM surveys WHERE tenant_id = :t"), {"t": tenant}
            ).scalar_one()
            units = conn.execute(
                text("SELECT id, code, path, kind FROM units WHERE tenant_id = :t ORDER BY code"),
                {"t": tenant},
            ).all()
            stores = [(u.id, u.code, u.path) for u in units if u.kind == "store"]
            return str(tenant), str(survey), stores, [u.code for u in units if u.kind == "region"]
    finally:
        engine.dispose()


def generate(
    url: str,
    *,
    responses: int,
    units: int,
    months: int,
    seed: int = 1,
    log: Any = print,
    reuse: bool = False,
) -> Dataset:
    """The tenant, units and survey through the services, then N responses and their rollups in bulk.

    With ``reuse``, a database that already holds the bench tenant is kept as
    it is (loading 10M responses takes many minutes) and only the same
    frame is generated again (same seed, same day)."""
    found = _existing(url) if reuse else None
    tenant_id, survey_id, stores, regions = found or asyncio.run(_setup(url, units))
    frame, first, last = _frame(responses, len(stores), months, seed)
    data = Dataset(
        tenant_id=tenant_id,
        survey_id=survey_id,
        unit_ids=[s[0] for s in stores],
        unit_codes=[s[1] for s in stores],
        unit_paths=[s[2] for s in stores],
        regions=regions,
        first_day=first,
        last_day=last,
        frame=frame,
    )
    if found is None:
        _write(url, data, 1_000_000, log)
    _vacuum_rollups(url)
    return data


def _vacuum_rollups(url: str) -> None:
    """PostgreSQL: set the visibility map, as autovacuum would, so one unit's rows are an index-only scan."""
    engine = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("VACUUM ANALYZE analytics_rollups"))
    finally:
        engine.dispose()


if __name__ == "__main__":
    import argparse
    import tempfile
    from pathlib import Path

    from cxloop.kit.migrate import upgrade

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "gen.db"
    upgrade(f"sqlite:///{path}")
    t0 = time.perf_counter()
    generate(f"sqlite:///{path}", responses=args.responses, units=args.units, months=args.months)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))
