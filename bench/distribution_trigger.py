"""Event in -> invitation handed to the channel, with a zero-delay trigger.

A real ``cxloop serve`` (SQLite, the embedded worker and its SQLite job
queue) takes ``POST /api/v1/events`` at a steady rate; each event names a
new contact by email, a trigger sends a survey by email at once, and a
local SMTP server (aiosmtpd) notes when each message arrives. The latency
is arrival minus the moment the event was posted. Target: p99 under 1 s.

    .venv/bin/python bench/distribution_trigger.py --events 200 --rate 10
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from bench.common import (
    BIN,
    api,
    arg_parser,
    free_port,
    machine_info,
    published_survey,
    seed,
    server_env,
    start,
    stop,
    wait_for,
    write_results,
)
from bench.workload import one_page_survey


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.at[rcpt] = now
        return "250 OK"


def diagnose(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        for query in (
            "SELECT status, skip_reason, last_error, count(*) FROM invitations GROUP BY 1, 2, 3",
            "SELECT status, outcome, count(*) FROM trigger_runs GROUP BY 1, 2",
            "SELECT name, status, count(*), max(last_error) FROM outbox_jobs GROUP BY 1, 2",
        ):
            print(query, [tuple(row) for row in conn.execute(text(query))], file=sys.stderr)
    engine.dispose()


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    arrivals = Arrivals()
    smtp_port = free_port()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'cxloop.db'}"
        from cxloop.kit.migrate import upgrade

        upgrade(url)
        token = asyncio.run(seed(url, email="bench@bench.test", role="admin"))
        port = free_port()
        env = server_env(url, data_dir, CXLOOP_EMBEDDED_WORKER="true")
        server = start(
            [str(BIN / "cxloop"), "serve", "--workers", "1", "--port", str(port), "--no-access-log"], env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/healthz")
            api(
                "PUT",
                f"{base}/api/v1/channels/email",
                token,
                {
                    "provider": "smtp",
                    "config": {
                        "host": "127.0.0.1",
                        "port": smtp_port,
                        "security": "none",
                        "from": "b <b@bench.test>",
                    },
                },
            )
            api("POST", f"{base}/api/v1/event-types", token, {"name": "order_delivered"})
            survey_id = published_survey(base, token, one_page_survey())
            api(
                "POST",
                f"{base}/api/v1/triggers",
                token,
                {
                    "name": "bench",
                    "event_type": "order_delivered",
                    "survey_id": survey_id,
                    "channel": "email",
                    "conditions": [{"field": "attributes.order_amount", "op": "gt", "value": 100}],
                },
            )
            posted: dict[str, float] = {}

            def post(index: int) -> None:
                email = f"e{index}@example.com"
                posted[email] = time.perf_counter()
                api(
                    "POST",
                    f"{base}/api/v1/events",
                    token,
                    {
                        "id": f"ev-{index}",
                        "type": "order_delivered",
                        "contact": {"email": email},
                        "attributes": {"order_amount": 150},
                    },
                )

            with ThreadPoolExecutor(max_workers=8) as pool:
                started = time.perf_counter()
                futures = []
                for index in range(args.events):
                    pause = started + index / args.rate - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    futures.append(pool.submit(post, index))
                for future in futures:
                    future.result()
            deadline = time.perf_counter() + 30
            while len(arrivals.at) < args.events and time.perf_counter() < deadline:
                time.sleep(0.1)
            if len(arrivals.at) < args.events:
                diagnose(url)
        finally:
            stop(server)
            smtp.stop()
    latencies = sorted(arrivals.at[email] - posted[email] for email in arrivals.at if email in posted)
    if not latencies:
        sys.exit("no message arrived")

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    results = {
        **machine_info(),
        "events": args.events,
        "rate_per_s": args.rate,
        "delivered": len(latencies),
        "p50_ms": round(pct(0.50)),
        "p99_ms": round(pct(0.99)),
        "max_ms": round(latencies[-1] * 1000),
        "mean_ms": round(statistics.mean(latencies) * 1000),
        "target_p99_ms": 1000,
    }
    write_results("distribution_trigger.json", results)
    print(results)


if __name__ == "__main__":
    main()
