"""Benchmarks of the platform foundation; figures go to docs/benchmarks.md.

    .venv/bin/python bench/run.py [--duration 6] [--connections 32] [--rounds 5] [--skip-postgres]
        [--skip-demo]

1. Requests/s of ``GET /api/v1/me`` with a bearer token, served by
   ``cxloop serve --workers 2``, against a bare FastAPI endpoint (bench/bare_app.py)
   under uvicorn with 2 workers, measured in the same run with wrk on
   127.0.0.1, on SQLite and on PostgreSQL. Target: at least 60 % of the bare figure.
2. ``cxloop demo`` time to first page: from process start on an empty data
   directory until ``GET /login`` answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import common


def me_ratio(label: str, database_url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, object]:
    from cxloop.kit.migrate import upgrade

    upgrade(database_url)
    token = asyncio.run(common.seed(database_url, email="bench@bench.test", role="unit_manager"))
    env = common.server_env(database_url, data_dir)
    bare_port, app_port = common.free_port(), common.free_port()
    bare = common.start_uvicorn("bare_app:app", bare_port, env)
    app = common.start_cxloop(app_port, env)
    try:
        bare_url, app_url = (
            f"http://127.0.0.1:{bare_port}/api/v1/me",
            f"http://127.0.0.1:{app_port}/api/v1/me",
        )
        common.wait_for(bare_url)
        common.wait_for(app_url, headers={"Authorization": f"Bearer {token}"})
        # Warm both (imports, pools, caches), then alternate to share the noise.
        common.wrk(bare_url, token=None, duration=2, connections=args.connections)
        common.wrk(app_url, token=token, duration=2, connections=args.connections)
        bare_rps, app_rps = [], []
        for _ in range(args.rounds):
            bare_rps.append(
                common.wrk(bare_url, token=None, duration=args.duration, connections=args.connections)
            )
            app_rps.append(
                common.wrk(app_url, token=token, duration=args.duration, connections=args.connections)
            )
    finally:
        common.stop(bare)
        common.stop(app)
    return {"database": label, **common.ratio_summary(bare_rps, app_rps, names=("bare", "me"))}


def demo_first_page(data_dir: Path) -> float:
    port = common.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    start_time = time.monotonic()
    demo = common.start(
        [str(common.BIN / "cxloop"), "demo", "--port", str(port), "--data-dir", str(data_dir)], env
    )
    try:
        common.wait_for(f"http://127.0.0.1:{port}/login", timeout=180)
        return time.monotonic() - start_time
    finally:
        common.stop(demo)


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    common.require_wrk()
    results: dict[str, object] = common.machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [me_ratio("sqlite", f"sqlite:///{work / 'bench.db'}", work / "data-sqlite", args)]
        if not args.skip_postgres:
            with common.postgres_schema() as url:
                runs.append(me_ratio("postgresql", url, work / "data-pg", args))
        results["me_vs_bare"] = runs
        if not args.skip_demo:
            results["demo_first_page_seconds"] = round(demo_first_page(work / "demo-data"), 2)
    common.write_results("latest.json", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
