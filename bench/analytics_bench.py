"""Analytics query benchmark (issue 5 targets), cxloop next to DuckDB on the same data.

For each database: a fresh schema (PostgreSQL) or file (SQLite), the real
migrations, ``analytics_data.generate`` (units and survey through the
services, responses and rollups in bulk), then in-process server time of
``run_metrics_query`` (no HTTP) for:

- company: NPS by month x unit for the whole company (24 months), as an admin;
- tile: one store's NPS KPI tile (12 months), as that store's manager;
- dashboard: a store manager's 8 widgets (tiles against target / previous period,
  trends, by touchpoint and channel, against the company, weekly counts), summed.

DuckDB gets the same generated responses as a Parquet file (never through
its postgres scanner) and answers the same aggregates from raw rows.
Each figure is the median of ``--rounds`` runs after one warm-up.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics_data import CHANNELS, TOUCHPOINTS, Dataset, generate
from common import PG_URL, arg_parser, machine_info, postgres_schema, write_results
from sqlalchemy import create_engine, text

from cxloop.analytics import MetricsQuery, run_metrics_query
from cxloop.analytics.rollups import rebuild
from cxloop.identity import Grant, Principal, Role
from cxloop.kit.db import Database, sync_url
from cxloop.kit.migrate import upgrade


def principal(data: Dataset, grant: Grant) -> Principal:
    return Principal(
        tenant_id=data.tenant_id,
        kind="service",
        user_id=None,
        token_id=None,
        label="bench",
        name="bench",
        locale="en",
        grants=(grant,),
    )


def tenant_today() -> date:
    """Today in the bench tenant's zone (Asia/Shanghai): after 16:00 UTC it is already
    tomorrow there, and a window ending on the UTC date is no longer whole months."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def month_start(day: date, back: int) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def widgets(data: Dataset, store: str, today: date) -> list[dict[str, Any]]:
    year = {"unit_code": store, "date_from": month_start(today, 11).isoformat(), "date_to": today.isoformat()}
    weeks = {
        "unit_code": store,
        "date_from": (today - timedelta(days=83)).isoformat(),
        "date_to": today.isoformat(),
    }
    return [
        {"metrics": ["nps"], "filters": year, "compare": "target"},
        {"metrics": ["csat"], "filters": year, "compare": "previous_period"},
        {"metrics": ["ces", "n"], "filters": year},
        {"metrics": ["nps"], "group_by": ["month"], "filters": year},
        {"metrics": ["nps"], "group_by": ["touchpoint"], "filters": year},
        {"metrics": ["nps", "csat"], "group_by": ["channel"], "filters": year},
        {"metrics": ["nps"], "group_by": ["month"], "filters": year, "compare": "company"},
        {"metrics": ["n"], "group_by": ["week"], "filters": weeks},
    ]


def median_ms(run: Callable[[], Any], rounds: int) -> tuple[float, list[float]]:
    run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), [round(t, 1) for t in times]


async def cxloop_figures(url: str, data: Dataset, rounds: int) -> dict[str, Any]:
    db = Database(url)
    today = tenant_today()
    admin = principal(data, Grant(Role.ADMIN, None, None, None))
    store_id, store_code, store_path = data.unit_ids[0], data.unit_codes[0], data.unit_paths[0]
    manager = principal(data, Grant(Role.UNIT_MANAGER, store_id, store_path, store_code))
    company = MetricsQuery(
        metrics=["nps"],
        group_by=["month", "unit"],
        filters={"date_from": data.first_day.isoformat(), "date_to": today.isoformat()},
        limit=5000,
    )
    tile = MetricsQuery(metrics=["nps"], filters=widgets(data, store_code, today)[0]["filters"])
    dashboard = [MetricsQuery(**w) for w in widgets(data, store_code, today)]

    async def once(who: Principal, queries: list[MetricsQuery]) -> list[dict[str, Any]]:
        async with db.session(write=False) as session:
            return [await run_metrics_query(session, who, q) for q in queries]

    loop_results: dict[str, Any] = {}
    try:
        for name, who, queries in (
            ("company", admin, [company]),
            ("tile", manager, [tile]),
            ("dashboard", manager, dashboard),
        ):
            answers = await once(who, queries)
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                await once(who, queries)
                times.append((time.perf_counter() - started) * 1000)
            loop_results[name] = {
                "median_ms": round(statistics.median(times), 1),
                "rounds_ms": [round(t, 1) for t in times],
                "rows": sum(a["total_rows"] for a in answers),
                "source": sorted({a["source"] for a in answers}),
            }
    finally:
        await db.dispose()
    return loop_results


def duckdb_figures(data: Dataset, rounds: int) -> dict[str, Any]:
    f = data.frame
    table = f.select(
        pl.Series(data.unit_ids).gather(f["unit"]).alias("unit_id"),
        pl.col("day"),
        pl.col("channel").replace_strict(dict(enumerate(CHANNELS)), return_dtype=pl.Utf8),
        pl.col("touchpoint").replace_strict(dict(enumerate(TOUCHPOINTS)), return_dtype=pl.Utf8),
        pl.col("nps"),
        pl.when(pl.col("csat") > 0).then(pl.col("csat")).alias("csat"),
        pl.when(pl.col("ces") > 0).then(pl.col("ces")).alias("ces"),
    )
    # Parquet written by polars (pyarrow is not installed), loaded into DuckDB's own storage.
    with tempfile.TemporaryDirectory() as scratch:
        parquet = Path(scratch) / "responses.parquet"
        table.write_parquet(parquet)
        con = duckdb.connect()
        con.execute(f"CREATE TABLE responses AS SELECT * FROM read_parquet('{parquet}')")
    today = tenant_today()
    store = data.unit_ids[0]
    year_from = month_start(today, 11).isoformat()
    nps = "count(nps) AS n, avg(CASE WHEN nps >= 9 THEN 100 WHEN nps <= 6 THEN -100 ELSE 0 END) AS nps"
    company = f"SELECT substr(day, 1, 7) AS m, unit_id, {nps} FROM responses WHERE day >= ? GROUP BY 1, 2"
    tile = f"SELECT {nps} FROM responses WHERE unit_id = ? AND day >= ?"
    where = "WHERE unit_id = ? AND day >= ?"
    dashboard = [
        (tile, [store, year_from]),
        (f"SELECT avg((csat >= 4)::int) * 100, count(csat) FROM responses {where}", [store, year_from]),
        (f"SELECT avg(ces), count(*) FROM responses {where}", [store, year_from]),
        (f"SELECT substr(day, 1, 7), {nps} FROM responses {where} GROUP BY 1", [store, year_from]),
        (f"SELECT touchpoint, {nps} FROM responses {where} GROUP BY 1", [store, year_from]),
        (
            f"SELECT channel, {nps}, avg((csat >= 4)::int) FROM responses {where} GROUP BY 1",
            [store, year_from],
        ),
        (
            f"SELECT substr(day, 1, 7), {nps} FROM responses WHERE day >= ? GROUP BY 1 UNION ALL "
            f"SELECT substr(day, 1, 7), {nps} FROM responses {where} GROUP BY 1",
            [year_from, store, year_from],
        ),
        (
            f"SELECT strftime(CAST(day AS DATE), '%G-W%V'), count(*) FROM responses {where} GROUP BY 1",
            [store, (today - timedelta(days=83)).isoformat()],
        ),
    ]
    out: dict[str, Any] = {}
    for name, statements in (
        ("company", [(company, [data.first_day.isoformat()])]),
        ("tile", [(tile, [store, year_from])]),
        ("dashboard", dashboard),
    ):

        def run(statements: list[tuple[str, list[Any]]] = statements) -> None:
            for sql, params in statements:
                con.execute(sql, params).fetchall()

        median, rounds_ms = median_ms(run, rounds)
        out[name] = {"median_ms": round(median, 1), "rounds_ms": rounds_ms}
    con.close()
    return out


def measure(label: str, url: str, args: Any, responses: int, reuse: bool = False) -> dict[str, Any]:
    upgrade(url)
    started = time.perf_counter()
    data = generate(
        url,
        responses=responses,
        units=args.units,
        months=args.months,
        log=lambda m: print(f"  {m}", flush=True),
        reuse=reuse,
    )
    generated = time.perf_counter() - started
    print(f"{label}: {responses:,} responses generated in {generated:.0f}s", flush=True)
    result = {
        "responses": responses,
        "units": args.units,
        "months": args.months,
        "generate_s": round(generated, 1),
        "cxloop": asyncio.run(cxloop_figures(url, data, args.rounds)),
        "duckdb": duckdb_figures(data, args.rounds),
    }
    for name in ("company", "tile", "dashboard"):
        print(
            f"  {name:9s} cxloop {result['cxloop'][name]['median_ms']:8.1f} ms   "
            f"duckdb {result['duckdb'][name]['median_ms']:8.1f} ms",
            flush=True,
        )
    return result


def _rollup_rows(url: str, tenant_id: str) -> list[tuple[Any, ...]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return sorted(
                tuple(row)
                for row in conn.execute(
                    text(
                        "SELECT grain, day, unit_key, survey_id, channel, touchpoint, responses, nps_n, "
                        "nps_pro, nps_det, csat_n, csat_sum, csat_sumsq, csat_top2, ces_n, ces_sum, "
                        "ces_sumsq FROM analytics_rollups WHERE tenant_id = :t"
                    ),
                    {"t": tenant_id},
                )
            )
    finally:
        engine.dispose()


def measure_rebuild(label: str, url: str, args: Any, responses: int) -> dict[str, Any]:
    """``rebuild(fresh=True)`` over bulk-loaded responses; its rollups must equal the generator's."""
    upgrade(url)
    data = generate(url, responses=responses, units=args.units, months=args.months, log=lambda m: None)
    expected = _rollup_rows(url, data.tenant_id)

    async def once() -> float:
        db = Database(url)
        try:
            started = time.perf_counter()
            await rebuild(db, data.tenant_id, fresh=True)
            return time.perf_counter() - started
        finally:
            await db.dispose()

    times = [asyncio.run(once()) for _ in range(args.rounds)]
    same = _rollup_rows(url, data.tenant_id) == expected
    median = statistics.median(times)
    print(
        f"{label}: rebuild of {responses:,} responses {median:.2f}s median "
        f"({responses / median:,.0f}/s; rounds {[round(t, 2) for t in times]}); rollups identical: {same}",
        flush=True,
    )
    return {
        "responses": responses,
        "median_s": round(median, 2),
        "rounds_s": [round(t, 2) for t in times],
        "identical": same,
    }


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--responses", type=int, default=10_000_000, help="PostgreSQL responses")
    parser.add_argument("--sqlite-responses", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--only", choices=("postgresql", "sqlite"), default=None)
    parser.add_argument(
        "--pg-schema",
        default=None,
        help="keep the PostgreSQL data in this schema; a later run with the same name measures it again",
    )
    parser.add_argument(
        "--rebuild", type=int, default=0, help="time `analytics rebuild --fresh` over N responses instead"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {**machine_info()}
    if args.rebuild:
        if args.only in (None, "sqlite"):
            with tempfile.TemporaryDirectory() as scratch:
                results["sqlite"] = measure_rebuild(
                    "SQLite", f"sqlite:///{Path(scratch) / 'bench.db'}", args, args.rebuild
                )
        if args.only in (None, "postgresql"):
            with postgres_schema() as url:
                results["postgresql"] = measure_rebuild("PostgreSQL", url, args, args.rebuild)
        write_results("analytics_rebuild.json", results)
        return
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as scratch:
            results["sqlite"] = measure(
                "SQLite", f"sqlite:///{Path(scratch) / 'bench.db'}", args, args.sqlite_responses
            )
    if args.only in (None, "postgresql"):
        if args.pg_schema:
            # A named schema is kept: generated once, measured again by later runs.
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.pg_schema}"'))
            admin.dispose()
            url = f"{PG_URL}?options=-csearch_path%3D{args.pg_schema}"
            results["postgresql"] = measure("PostgreSQL", url, args, args.responses, reuse=True)
        else:
            with postgres_schema() as url:
                results["postgresql"] = measure("PostgreSQL", url, args, args.responses)
    write_results("analytics.json", results)


if __name__ == "__main__":
    main()
