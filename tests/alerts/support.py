"""Shared helpers for the alerts tests: a survey, responses, and real receivers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import rows
from tests.factories import Org

__all__ = ["Receiver", "make_survey", "receiver", "rows", "rule", "submit"]


def t(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh-CN": zh, "en": en or zh}


SURVEY: dict[str, Any] = {
    "title": t("门店体验", "Store experience"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "tier"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "text": t("推荐"), "required": True},
                {"id": "csat", "type": "csat", "text": t("满意")},
                {"id": "comment", "type": "text", "size": "long", "text": t("意见")},
            ],
        }
    ],
}


def make_survey(client: TestClient, org: Org) -> str:
    created = client.post("/api/v1/surveys", json={"definition": SURVEY}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id


def submit(
    client: TestClient,
    org: Org,
    survey_id: str,
    answers: dict[str, Any],
    *,
    unit: str = "SH001",
    who: str = "cx",
    **extra: Any,
) -> str:
    answer = client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        json={"answers": answers, "unit_code": unit, **extra},
        headers=org.auth(who),
    )
    assert answer.status_code == 201, answer.text
    response_id: str = answer.json()["id"]
    return response_id


def rule(
    client: TestClient, org: Org, definition: dict[str, Any], *, name: str = "Detractor", who: str = "cx"
) -> dict[str, Any]:
    created = client.post(
        "/api/v1/alert-rules", json={"name": name, "definition": definition}, headers=org.auth(who)
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


DETRACTOR: dict[str, Any] = {
    "kind": "response",
    "condition": {"source": "answers", "field": "nps", "op": "le", "value": 6},
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers ``status``."""

    port: int = 0
    status: list[int] = field(default_factory=list)  # answers to give in order, then 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    event: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_status(self) -> int:
        with self.lock:
            return self.status.pop(0) if self.status else 200

    def wait(self, n: int, timeout: float = 10.0) -> list[Received]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            self.event.wait(0.05)
        with self.lock:
            return list(self.received)


@contextmanager
def receiver(status: list[int] | None = None) -> Iterator[Receiver]:
    state = Receiver(status=list(status or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            code = state.next_status()
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
            state.event.set()
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
