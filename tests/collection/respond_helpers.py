"""Helpers for the respondent page tests: surveys, links, reading and posting pages."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.web.pages import respond
from tests.collection.support import NOT_BACKGROUND, rows
from tests.factories import Org

TOKEN = re.compile(r'name="ft" value="([^"]+)"')


def t(zh: str, en: str | None = None, tw: str | None = None) -> dict[str, str]:
    text = {"zh-CN": zh, "en": en or zh}
    if tw is not None:
        text["zh-TW"] = tw
    return text


FLOW: dict[str, Any] = {
    "title": t("门店体验", "Store visit", "門店體驗"),
    "languages": ["zh-CN", "en", "zh-TW"],
    "default_language": "zh-CN",
    "embedded": [{"name": "store_name"}],
    "theme": {"color": "#ffcc00"},
    "thank_you": [
        {"outcome": "promoter", "message": t("谢谢推荐", "Thanks for the love, {{answers.name}}!")},
        {"outcome": "detractor", "message": t("我们会改进", "We will do better.")},
        {"outcome": "default", "message": t("谢谢", "Thank you.")},
    ],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "nps",
                    "type": "nps",
                    "text": t("您有多大可能推荐我们？", "How likely are you to recommend us?"),
                    "required": True,
                    "low_label": t("不可能", "Not at all"),
                    "high_label": t("非常可能", "Extremely"),
                },
                {"id": "name", "type": "text", "text": t("您的名字", "Your name")},
            ],
            "skip_logic": [
                {"when": {"source": "answers", "field": "nps", "op": "eq", "value": 10}, "to": "end"}
            ],
        },
        {
            "id": "p2",
            "display_logic": {"source": "answers", "field": "nps", "op": "le", "value": 6},
            "questions": [
                {
                    "id": "why",
                    "type": "text",
                    "size": "long",
                    "required": True,
                    "text": t(
                        "{{answers.name}}，为什么是 {{answers.nps}} 分？",
                        "{{answers.name}}, why {{answers.nps}}?",
                    ),
                }
            ],
        },
        {
            "id": "p3",
            "title": t("关于 {{embedded.store_name}}", "About {{embedded.store_name}}"),
            "questions": [{"id": "ok", "type": "consent", "text": t("可以联系我", "You may contact me")}],
        },
    ],
}


def flow() -> dict[str, Any]:
    return copy.deepcopy(FLOW)


@pytest.fixture(autouse=True)
def no_minimum_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests answer at machine speed; the one test of the bot check sets it back."""
    monkeypatch.setattr(respond, "MIN_SECONDS_FIRST_PAGE", 0.0)


def publish(client: TestClient, org: Org, definition: dict[str, Any], *, publish: bool = True) -> str:
    created = client.post("/api/v1/surveys", json={"definition": definition}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    if publish:
        published = client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
        assert published.status_code == 200, published.text
    return survey_id


def personal_links(
    client: TestClient, org: Org, survey_id: str, *items: dict[str, Any], who: str = "cx"
) -> list[dict[str, Any]]:
    made = client.post(
        f"/api/v1/surveys/{survey_id}/links", json={"items": list(items)}, headers=org.auth(who)
    )
    assert made.status_code == 201, made.text
    links: list[dict[str, Any]] = made.json()["items"]
    return links


def token_of(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page has no form token"
    return match.group(1)


def send(
    client: TestClient, survey_id: str, html: str, data: dict[str, Any] | None = None, **extra: Any
) -> Any:
    form = {"ft": token_of(html), "nav": "next", **(data or {})}
    return client.post(f"/s/{survey_id}", data=form, follow_redirects=False, **extra)


def decoded(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """JSON columns come back as text from SQLite and as objects from PostgreSQL."""
    return [tuple(json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for v in row) for row in found]


def json_rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    return decoded(rows(database_url, query))


def responses(database_url: str) -> list[tuple[Any, ...]]:
    return json_rows(database_url, "SELECT status, resume_page, answers, link_id FROM responses ORDER BY id")


def jobs(database_url: str) -> list[tuple[Any, ...]]:
    return rows(database_url, f"SELECT name, status FROM outbox_jobs WHERE {NOT_BACKGROUND} ORDER BY id")
