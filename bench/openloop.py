"""An open-loop HTTP/1.1 load generator for latency at a fixed arrival rate.

Request ``i`` is due at ``start + i / rate`` whether or not earlier ones have
been answered, and its latency is counted from that due time, not from when
a connection became free: a stalled server therefore shows up in the
percentiles instead of silently lowering the rate (no coordinated omission).
Keep-alive connections are reused and new ones opened up to a bound.

A hand-written client on raw asyncio streams, because a full HTTP client
library costs more CPU per request than the server under test on this
2-core machine. Only for 127.0.0.1 and bounded in time.

    python bench/openloop.py URL --rate 500 --seconds 20 [--body FILE] [-H 'Name: value']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IDLE_REUSE_SECONDS = 4.0


@dataclass
class Result:
    rate: float
    seconds: float
    sent: int = 0
    ok: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    achieved_rate: float = 0.0
    connections: int = 0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of every sample (there are few enough to keep them all)."""
        data = sorted(self.latencies_ms)
        if not data:
            return math.nan
        rank = max(1, math.ceil(q / 100 * len(data)))
        return data[rank - 1]

    def summary(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "seconds": self.seconds,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "statuses": self.statuses,
            "achieved_rate": round(self.achieved_rate, 1),
            "connections": self.connections,
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "p999_ms": round(self.percentile(99.9), 2),
            "max_ms": round(max(self.latencies_ms, default=math.nan), 2),
        }


def build_request(
    url: str, method: str, body: bytes | None, headers: dict[str, str]
) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("openloop only loads 127.0.0.1")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += [f"Content-Length: {len(body)}"]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
    return parts.hostname, parts.port or 80, raw


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status


async def fixed_rate(
    url: str,
    *,
    rate: float,
    seconds: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_connections: int = 256,
    request_timeout: float = 10.0,
) -> Result:
    host, port, raw = build_request(url, method, body, headers or {})
    result = Result(rate=rate, seconds=seconds)
    # (connection, when it was last used): uvicorn closes keep-alive
    # connections idle for 5 s, so older ones are not reused.
    idle: list[tuple[_Conn, float]] = []
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    loop = asyncio.get_running_loop()

    async def one(due: float) -> None:
        nonlocal opened
        async with slots:
            conn = None
            while idle and conn is None:
                conn, last_used = idle.pop()
                if loop.time() - last_used > IDLE_REUSE_SECONDS:
                    conn.writer.close()
                    conn = None
            try:
                if conn is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    conn = _Conn(reader, writer)
                    opened += 1
                status = await asyncio.wait_for(conn.exchange(raw), request_timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                # A failure counts in the percentiles too, with the time it took to fail.
                result.failed += 1
                result.latencies_ms.append((loop.time() - due) * 1000)
                if conn is not None:
                    conn.writer.close()
                return
            result.latencies_ms.append((loop.time() - due) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.ok += 1
            else:
                result.failed += 1
            idle.append((conn, loop.time()))

    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks: dict[asyncio.Task[None], float] = {}
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks[task] = due
        task.add_done_callback(lambda finished: tasks.pop(finished, None))
        result.sent += 1
    result.achieved_rate = result.sent / max(loop.time() - start, 1e-9)
    if tasks:
        _done, unfinished = await asyncio.wait(list(tasks), timeout=request_timeout + 5)
        # Never answered in time: failures, and their latency is at least the time waited.
        for task in unfinished:
            result.failed += 1
            result.latencies_ms.append((loop.time() - tasks[task]) * 1000)
            task.cancel()
    result.connections = opened
    for conn, _last_used in idle:
        conn.writer.close()
    return result


def run(url: str, **kwargs: object) -> Result:
    try:
        import uvloop

        return uvloop.run(fixed_rate(url, **kwargs))  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(fixed_rate(url, **kwargs))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--body", help="file with the request body (the method becomes POST)")
    parser.add_argument("-H", "--header", action="append", default=[])
    args = parser.parse_args()
    if not 0 < args.seconds <= 600:
        raise SystemExit("--seconds must be within 0-600")
    headers = dict(h.split(": ", 1) for h in args.header)
    body = None
    if args.body:
        with open(args.body, "rb") as handle:
            body = handle.read()
        headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    result = run(
        args.url,
        rate=args.rate,
        seconds=args.seconds,
        method="POST" if body is not None else "GET",
        body=body,
        headers=headers,
    )
    print(json.dumps({**result.summary(), "wall_seconds": round(time.monotonic() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
