"""A published KPI survey and deterministic responses for the analytics tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Org


def t(text: str) -> dict[str, str]:
    return {"zh-CN": text, "en": text}


DEFINITION: dict[str, Any] = {
    "title": t("体验"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "weight"}, {"name": "tier"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "rec", "type": "nps", "text": t("推荐")},
                {"id": "sat", "type": "csat", "text": t("满意")},
                {"id": "effort", "type": "ces", "text": t("省力")},
                {"id": "speed", "type": "rating", "points": 5, "text": t("速度")},
                {"id": "staff", "type": "rating", "points": 5, "text": t("员工")},
                {"id": "clean", "type": "rating", "points": 5, "text": t("整洁")},
                {
                    "id": "via",
                    "type": "single_choice",
                    "text": t("渠道"),
                    "choices": [{"id": c, "text": t(c)} for c in ("store", "app", "web")],
                },
                {"id": "sq1", "type": "servqual", "dimension": "empathy", "text": t("共情")},
                {"id": "sq2", "type": "servqual", "dimension": "reliability", "text": t("可靠")},
            ],
        }
    ],
}

# Tenant timezone is Asia/Shanghai (UTC+8): noon UTC is evening the same local day.
BASE = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def make_survey(client: TestClient, org: Org) -> str:
    created = client.post("/api/v1/surveys", json={"definition": DEFINITION}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id


def generate(
    count: int, seed: int = 7, units: tuple[str, ...] = ("SH001", "SH002", "GZ001")
) -> list[dict[str, Any]]:
    """Responses spread over units, channels, two touchpoints and ~120 days."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for i in range(count):
        unit = units[i % len(units)]
        bias = {"SH001": 2, "SH002": 0, "GZ001": -1}.get(unit, 0)
        rec = max(0, min(10, rng.randint(4, 10) + (1 if bias > 0 and rng.random() < 0.5 else 0) - (bias < 0)))
        speed, staff, clean = rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5)
        answers: dict[str, Any] = {
            "rec": rec,
            "speed": speed,
            "staff": staff,
            "clean": clean,
            "via": rng.choice(["store", "app", "web"]),
            "sq1": {"expectation": rng.randint(4, 7), "perception": rng.randint(1, 7)},
        }
        if rng.random() < 0.8:
            answers["sat"] = rng.randint(1, 5)
        if rng.random() < 0.7:
            answers["effort"] = rng.randint(1, 7)
        if rng.random() < 0.6:
            answers["sq2"] = {"expectation": rng.randint(3, 7), "perception": rng.randint(2, 7)}
        items.append(
            {
                "answers": answers,
                "unit_code": unit,
                "channel": rng.choice(["web", "sms"]),
                "touchpoint": rng.choice(["checkout", "delivery"]),
                "language": rng.choice(["zh-CN", "en"]),
                "submitted_at": (BASE + timedelta(hours=rng.randint(0, 24 * 120))).isoformat(),
                "embedded": {"weight": str(rng.choice([0.5, 1, 2])), "tier": rng.choice(["gold", "silver"])},
            }
        )
    return items


def submit(client: TestClient, org: Org, survey_id: str, items: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(items), 1000):
        got = client.post(
            f"/api/v1/surveys/{survey_id}/responses/batch",
            json={"responses": items[start : start + 1000]},
            headers=org.auth("cx"),
        )
        assert got.status_code == 200, got.text
        for result in got.json()["results"]:
            assert result.get("id"), result
            ids.append(result["id"])
    return ids


def query(client: TestClient, org: Org, who: str = "cx", **body: Any) -> Any:
    return client.post("/api/v1/metrics/query", json=body, headers=org.auth(who))
