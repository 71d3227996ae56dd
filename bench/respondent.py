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
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload
from ingest import api, seed
from run import BIN, PG_URL, ROOT, free_port, start, stop, wait_for


def wrk_get(url: str, duration: int, connections: int) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if "Non-2xx or 3xx responses" in line:
            raise RuntimeError(f"{url}: {line.strip()}\n{output}")
        if "Socket errors" in line:
            print(f"  {url}: {line.strip()}", file=sys.stderr, flush=True)
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(output)


def measure(label: str, database_url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from cxloop.kit.migrate import upgrade

    upgrade(database_url)
    token = asyncio.run(seed(database_url))
    env = {
        **os.environ,
        "CXLOOP_DATABASE_URL": database_url,
        "CXLOOP_DATA_DIR": str(work / f"data-{label}"),
        "CXLOOP_SECRET_KEY": "bench-" + "k" * 40,
        "CXLOOP_EMBEDDED_WORKER": "false",
    }
    env.pop("CXLOOP_REDIS_URL", None)
    port = free_port()
    app = start([str(BIN / "cxloop"), "serve", "--workers", "2", "--port", str(port), "--no-access-log"], env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        created = api("POST", f"{base}/api/v1/surveys", token, {"definition": workload.one_page_survey()})
        survey_id = created["id"]
        api("POST", f"{base}/api/v1/surveys/{survey_id}/publish", token)
        url = f"{base}/s/{survey_id}"
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
        # The page really is the survey: every question is on it.
        missing = [
            q["id"] for q in workload.one_page_survey()["pages"][0]["questions"] if q["id"] not in page
        ]
        if missing:
            raise RuntimeError(f"questions missing from the page: {missing}")
        wrk_get(url, 2, args.connections)  # warm-up
        rounds = [wrk_get(url, args.duration, args.connections) for _ in range(args.rounds)]
    finally:
        stop(app)
    ordered = sorted(rounds)
    return {
        "database": label,
        "page_bytes": len(page.encode()),
        "pages_per_s_median": round(statistics.median(rounds)),
        "pages_per_s_range": [round(ordered[0]), round(ordered[-1])],
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    results: dict[str, Any] = {
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_sqlite:
            results["runs"].append(measure("sqlite", f"sqlite:///{work / 'bench.db'}", work, args))
            print(json.dumps(results["runs"][-1]), flush=True)
        if not args.skip_postgres:
            from sqlalchemy import create_engine, text

            schema = f"bench_{os.getpid()}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
            try:
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                results["runs"].append(measure("postgresql", url, work, args))
                print(json.dumps(results["runs"][-1]), flush=True)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "respondent.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
