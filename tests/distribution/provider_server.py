"""A real HTTP server on 127.0.0.1 that plays SMS and WeChat providers: it
checks each request the way the provider documents (signatures, auth,
fields) and answers in the provider's format. Each test sets ``answers``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = Callable[["Seen"], tuple[int, dict[str, Any]]]


class Seen:
    def __init__(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> None:
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def form(self) -> dict[str, str]:
        return {
            key: values[0] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()
        }

    def json(self) -> Any:
        return json.loads(self.body)


class ProviderServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                owner.seen.append(seen)
                if owner.delay:
                    time.sleep(owner.delay)
                route = owner.routes.get(parts.path)
                status, answer = (404, {"error": "no route"}) if route is None else route(seen)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProviderServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
