"""A published survey with open-text questions, and helpers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import choices, t
from tests.factories import Org

DEFINITION: dict[str, Any] = {
    "title": t("外卖回访", "Delivery follow-up"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "text": t("推荐")},
                {"id": "why", "type": "text", "text": t("原因"), "max_length": 20000},
                {
                    "id": "via",
                    "type": "single_choice",
                    "text": t("渠道"),
                    "choices": choices("app", other="other"),
                },
                {
                    "id": "liked",
                    "type": "multiple_choice",
                    "text": t("喜欢"),
                    "choices": choices("a", other="more"),
                },
                {"id": "mail", "type": "email", "text": t("邮箱")},
            ],
        }
    ],
}


def publish(client: TestClient, org: Org) -> str:
    created = client.post("/api/v1/surveys", json={"definition": DEFINITION}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id


# Four complaints, a thanks and a question: what the shipped model reads surely in each class.
ENGLISH_COMMENTS = [
    "The delivery was late again",
    "Nobody answered the phone for an hour",
    "Still waiting for the refund you promised",
    "The app logs me out every time",
    "Great food, thank you",
    "Is the store open on Sunday?",
]


def english_responses(client: TestClient, org: Org, survey_id: str, count: int) -> list[str]:
    """``count`` responses in one batch, cycling through ENGLISH_COMMENTS; returns their comments."""
    items = [
        {"answers": {"why": ENGLISH_COMMENTS[i % len(ENGLISH_COMMENTS)]}, "unit_code": "SH001"}
        for i in range(count)
    ]
    stored = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("cx")
    )
    assert stored.status_code == 200, stored.text
    return [item["answers"]["why"] for item in items]


# Scored Chinese comments: three detractors, two promoters and a passive (left out of training).
CHINESE_SCORED = [
    ("送餐太慢了，饭都凉了", 2),
    ("骑手态度很差", 3),
    ("包装破了，汤洒了一袋子", 1),
    ("味道很好，下次还点", 10),
    ("送得很快，谢谢", 9),
    ("还行吧", 8),
]


def chinese_scored_responses(client: TestClient, org: Org, survey_id: str, count: int) -> None:
    """``count`` responses in one batch, cycling through CHINESE_SCORED."""
    items = [
        {
            "answers": {"nps": CHINESE_SCORED[i % 6][1], "why": CHINESE_SCORED[i % 6][0]},
            "unit_code": "SH001",
        }
        for i in range(count)
    ]
    stored = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("cx")
    )
    assert stored.status_code == 200, stored.text


def respond(
    client: TestClient, org: Org, survey_id: str, answers: dict[str, Any], unit: str = "SH001"
) -> str:
    stored = client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        json={"answers": answers, "unit_code": unit},
        headers=org.auth("cx"),
    )
    assert stored.status_code == 201, stored.text
    response_id: str = stored.json()["id"]
    return response_id
