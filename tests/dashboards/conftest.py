"""Dashboards test helpers: a stand-in for analytics' query engine that answers
in the documented shape of ``POST /api/v1/metrics/query`` and records the
queries it was sent, so tests can check what the dashboard asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cxloop.dashboards.data as data
from cxloop.identity import Principal
from cxloop.kit.errors import ValidationFailed

KNOWN = {"nps", "csat", "ces", "response_count", "response_rate", "drivers", "nps_distribution", "funnel"}
MONTHS = ["2026-09", "2026-10", "2026-11"]
UNITS_BY_LEVEL = {1: ["EAST", "SOUTH"], 2: ["SH", "GZ"], 3: ["SH001", "SH002", "GZ001"]}


class FakeMetrics:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # Added to every value: a test raises it to play "new responses arrived".
        self.offset = 0.0

    async def __call__(self, session: Any, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((principal.label, body))
        unknown = [m for m in body["metrics"] if m not in KNOWN]
        if unknown:
            raise ValidationFailed(
                f"Unknown metric {unknown[0]!r}; valid: {', '.join(sorted(KNOWN))}.", code="unknown_metric"
            )
        groups = body.get("group_by", [])
        keys: list[dict[str, Any]] = [{}]
        for group in groups:
            if group in ("month", "week", "day"):
                values = [{"month": m} if group == "month" else {group: m} for m in MONTHS]
            elif group.startswith("unit_level:"):
                values = [{"unit_code": c} for c in UNITS_BY_LEVEL.get(int(group.split(":")[1]), [])]
            else:
                values = [{group: "web"}, {group: "sms"}]
            keys = [{**k, **v} for k in keys for v in values]
        rows = []
        for i, key in enumerate(keys):
            row = dict(key)
            for j, metric in enumerate(body["metrics"]):
                row[metric] = 40.0 + i + j + self.offset
            row["n"] = 100 + i
            if body.get("compare"):
                row["delta"] = 2.5
                row["significant"] = False
            rows.append(row)
        return {"rows": rows}


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMetrics]:
    fake = FakeMetrics()
    monkeypatch.setattr(data, "query_runner", fake)
    yield fake
