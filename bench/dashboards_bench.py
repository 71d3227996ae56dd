"""Dashboard server time: every widget of a role default, as ``GET .../data`` runs them.

Generates the analytics benchmark's data (``analytics_data.generate``: units and
survey through the services, responses and rollups in bulk), then times
``cxloop.dashboards.data.dashboard_data`` in-process (no HTTP) for the store
manager's default (KPIs against target, open cases, weekly trend against the
company, latest comments) and the executive's (company KPIs with sparklines,
trend, regions, region x month heatmap). Each figure is the median of
``--rounds`` runs after one warm-up; the widget count is printed with it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics_data import Dataset, generate
from common import PG_URL, arg_parser, machine_info, postgres_schema, write_results

from cxloop.dashboards.data import dashboard_data, resolve_filters, run_widget
from cxloop.dashboards.defaults import default_definition
from cxloop.identity import Grant, Principal, Role
from cxloop.kit.db import Database
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


async def _time(url: str, data: Dataset, rounds: int) -> dict[str, Any]:
    db = Database(url)
    store = Grant(Role.UNIT_MANAGER, data.unit_ids[0], data.unit_paths[0], data.unit_codes[0])
    viewers = {
        "store_manager": principal(data, store),
        "executive": principal(data, Grant(Role.ADMIN, None, None, None)),
    }
    out: dict[str, Any] = {}
    try:
        for name, viewer in viewers.items():
            async with db.session(write=False) as session:
                _, definition = await default_definition(session, viewer)
                filters = definition.filters.model_copy(update={"period": "12m"})
                timings = []
                for _ in range(rounds + 1):
                    start = time.perf_counter()
                    _, results = await dashboard_data(session, viewer, definition, filters, "en")
                    timings.append((time.perf_counter() - start) * 1000)
                errors = {k: v["error"]["code"] for k, v in results.items() if v["error"]}
                resolved = await resolve_filters(session, viewer, filters)
                per_widget = {}
                for widget in definition.widgets:
                    spent = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        await run_widget(session, viewer, widget, resolved, "en")
                        spent.append((time.perf_counter() - start) * 1000)
                    per_widget[widget.id] = round(statistics.median(spent), 1)
            out[name] = {
                "widgets": len(definition.widgets),
                "median_ms": round(statistics.median(timings[1:]), 1),
                "min_ms": round(min(timings[1:]), 1),
                "per_widget_median_ms": per_widget,
                "widget_errors": errors,
            }
    finally:
        await db.dispose()
    return out


def run(url: str, responses: int, units: int, months: int, rounds: int) -> dict[str, Any]:
    upgrade(url)
    start = time.perf_counter()
    data = generate(url, responses=responses, units=units, months=months, log=lambda *a: None)
    result = {"generate_s": round(time.perf_counter() - start, 1)}
    result.update(asyncio.run(_time(url, data, rounds)))
    return result


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--postgres", action="store_true", help="also on PG_URL (a fresh schema)")
    args = parser.parse_args()
    results: dict[str, Any] = {**machine_info(), "responses": args.responses, "units": args.units}
    path = Path(tempfile.mkdtemp()) / "dashboards.db"
    results["sqlite"] = run(f"sqlite:///{path}", args.responses, args.units, args.months, args.rounds)
    print("sqlite", results["sqlite"], flush=True)
    if args.postgres and PG_URL:
        with postgres_schema() as url:
            results["postgresql"] = run(url, args.responses, args.units, args.months, args.rounds)
        print("postgresql", results["postgresql"], flush=True)
    write_results("dashboards.json", results)


if __name__ == "__main__":
    main()
