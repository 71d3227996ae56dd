"""A published survey with one question of every type, and helpers."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import Org
from tests.identity.support import engine_for


def t(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh-CN": zh, "en": en or zh}


def choices(*ids: str, other: str | None = None) -> list[dict[str, Any]]:
    made = [{"id": i, "text": t(i)} for i in ids]
    if other is not None:
        made.append({"id": other, "text": t(other), "other": True})
    return made


DEFINITION: dict[str, Any] = {
    "title": t("门店调研", "Store survey"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "order_no"}, {"name": "region", "default": "cn"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "text": t("推荐"), "required": True},
                {"id": "csat", "type": "csat", "text": t("满意")},
                {"id": "ces", "type": "ces", "text": t("省力")},
                {"id": "stars", "type": "rating", "points": 4, "text": t("星级")},
                {
                    "id": "via",
                    "type": "single_choice",
                    "text": t("渠道"),
                    "choices": choices("store", "app", other="other"),
                },
                {
                    "id": "liked",
                    "type": "multiple_choice",
                    "text": t("喜欢"),
                    "choices": choices("a", "b", "c"),
                    "min_picks": 1,
                    "max_picks": 2,
                },
                {"id": "order", "type": "ranking", "text": t("排序"), "choices": choices("x", "y", "z")},
                {
                    "id": "grid",
                    "type": "matrix",
                    "text": t("矩阵"),
                    "rows": [{"id": "r1", "text": t("行1")}, {"id": "r2", "text": t("行2")}],
                    "scale": [{"value": v, "text": t(str(v))} for v in (1, 2, 3)],
                },
            ],
        },
        {
            "id": "p2",
            "display_logic": {"source": "answers", "field": "nps", "op": "le", "value": 6},
            "questions": [
                {"id": "why", "type": "text", "text": t("原因"), "required": True, "max_length": 50}
            ],
        },
        {
            "id": "p3",
            "questions": [
                {"id": "code", "type": "text", "text": t("代码"), "pattern": "[A-Z]{3}"},
                {"id": "age", "type": "number", "text": t("年龄"), "min": 18, "max": 99, "integer": True},
                {"id": "visit", "type": "date", "text": t("日期"), "min": "2026-01-01"},
                {"id": "mail", "type": "email", "text": t("邮箱")},
                {"id": "tel", "type": "phone", "text": t("电话")},
                {"id": "ok", "type": "consent", "text": t("同意")},
                {"id": "sq", "type": "servqual", "dimension": "empathy", "text": t("共情")},
            ],
        },
    ],
}

FULL_ANSWERS: dict[str, Any] = {
    "nps": 9,
    "csat": 5,
    "ces": 7,
    "stars": 4,
    "via": {"choice": "other", "other": "微信"},
    "liked": ["a", "c"],
    "order": ["z", "x", "y"],
    "grid": {"r1": 1, "r2": 3},
    "code": "ABC",
    "age": 42,
    "visit": "2026-03-01",
    "mail": "li@example.com",
    "tel": "+86 138 0000 0000",
    "ok": True,
    "sq": {"expectation": 6, "perception": 4},
}


def definition() -> dict[str, Any]:
    return copy.deepcopy(DEFINITION)


def make_survey(client: TestClient, org: Org, *, publish: bool = True, close: bool = False) -> str:
    created = client.post("/api/v1/surveys", json={"definition": definition()}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    if publish:
        assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    if close:
        assert client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).status_code == 200
    return survey_id


def rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    with engine_for(database_url) as engine, engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query)).all()]


# The background lane's job, which a stored response's pipeline job queues when it
# runs (docs/adr/0028), is not something the submission wrote.
NOT_BACKGROUND = "name <> 'collection.response_stored.background'"


def written(database_url: str) -> dict[str, int]:
    """Rows a refused submission must not leave behind."""
    tables = ("responses", "outbox_jobs", "idempotency_keys")
    where = {"outbox_jobs": f" WHERE {NOT_BACKGROUND}"}
    return {
        table: rows(database_url, f"SELECT count(*) FROM {table}{where.get(table, '')}")[0][0]
        for table in tables
    }
