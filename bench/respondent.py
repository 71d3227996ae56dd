"""Respondent page benchmark (issue 3); figures go to docs/benchmarks.md.

    .venv/bin/python bench/respondent.py [--rounds 5] [--duration 6] [--connections 32]
        [--skip-sqlite] [--skip-postgres]

Pages/s of ``GET /s/{survey_id}``, the first page of a published survey with
all ten questions of bench/workload.py on it, as a new anonymous respondent
sees it (no cookie yet: the page sets one), served by ``cxloop serve
--workers 2 --no-access-log``, measured with wrk on 127.0.0.1 in several
rounds, on SQLite and on PostgreSQL. Target: at least 500 pages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import workload


def measure(label: str, database_url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from cxloop.kit.migrate import upgrade

    upgrade(database_url)
    # Tenant-wide, so that the token may create and publish the survey.
    token = asyncio.run(common.seed(database_url, email="cx@bench.test", role="cx_manager"))
    env = common.server_env(database_url, work / f"data-{label}")
    port = common.free_port()
    app = common.start_cxloop(port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        common.wait_for(f"{base}/healthz")
        survey_id = common.published_survey(base, token, workload.one_page_survey())
        url = f"{base}/s/{survey_id}"
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
        # The page really is the survey: every question is on it.
        missing = [
            q["id"] for q in workload.one_page_survey()["pages"][0]["questions"] if q["id"] not in page
        ]
        if missing:
            raise RuntimeError(f"questions missing from the page: {missing}")
        # No token: the respondent is anonymous.
        common.wrk(url, token=None, duration=2, connections=args.connections)  # warm-up
        rounds = [
            common.wrk(url, token=None, duration=args.duration, connections=args.connections)
            for _ in range(args.rounds)
        ]
    finally:
        common.stop(app)
    ordered = sorted(rounds)
    return {
        "database": label,
        "page_bytes": len(page.encode()),
        "pages_per_s_median": round(statistics.median(rounds)),
        "pages_per_s_range": [round(ordered[0]), round(ordered[-1])],
        "rounds": rounds,
    }


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    common.require_wrk()
    results: dict[str, Any] = {**common.machine_info(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_sqlite:
            results["runs"].append(measure("sqlite", f"sqlite:///{work / 'bench.db'}", work, args))
            print(json.dumps(results["runs"][-1]), flush=True)
        if not args.skip_postgres:
            with common.postgres_schema() as url:
                results["runs"].append(measure("postgresql", url, work, args))
                print(json.dumps(results["runs"][-1]), flush=True)
    common.write_results("respondent.json", results)


if __name__ == "__main__":
    main()
