"""The text API: ad-hoc analysis, taxonomy CRUD, explorer, corrections that teach, settings, errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import publish, respond

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


def test_analyze_answers_every_text_and_stores_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    answered = client.post(
        "/api/v1/text/analyze",
        json={"texts": ["配送太慢了，电话13812345678", "", "Great staff, thanks!"]},
        headers=org.auth("analyst"),
    )
    assert answered.status_code == 200, answered.text
    items = answered.json()["items"]
    assert [i["sentiment"] for i in items] == ["negative", "neutral", "positive"]
    assert items[0]["masked_text"] == "配送太慢了，电话[PHONE]"
    assert items[0]["pii"] == ["mobile"]
    assert [(t["path"], t["source"], t["matched"]) for t in items[0]["topics"]] == [
        ("配送 > 配送速度", "rule", ["太慢", "配送"])
    ]
    assert rows(database_url, "SELECT count(*) FROM comment_analyses") == [(0,)]


def test_analyze_refuses_bad_bodies_with_problems(client: TestClient, org: Org) -> None:
    url = "/api/v1/text/analyze"
    _problem(client.post(url, json={"texts": []}, headers=org.auth("cx")), 422, "validation_failed")
    _problem(client.post(url, json={"texts": ["a"] * 101}, headers=org.auth("cx")), 422, "validation_failed")
    _problem(
        client.post(url, json={"texts": ["a"], "language": "fr"}, headers=org.auth("cx")),
        422,
        "validation_failed",
    )
    _problem(client.post(url, json={"texts": [1]}, headers=org.auth("cx")), 422, "validation_failed")
    assert client.post(url, json={"texts": ["a"]}).status_code == 401


def test_taxonomy_starts_from_the_default_and_is_edited(
    client: TestClient, org: Org, database_url: str
) -> None:
    listed = client.get("/api/v1/text/topics", headers=org.auth("cx")).json()["items"]
    assert [t["path"] for t in listed[:6]] == ["App", "产品", "价格", "服务", "配送", "门店"]
    assert len(listed) == 23
    delivery = next(t for t in listed if t["key"] == "delivery")
    made = client.post(
        "/api/v1/text/topics",
        json={
            "name": {"zh-CN": "骑手", "en": "Rider"},
            "parent_id": delivery["id"],
            "keywords": {"zh": ["骑手", "小哥"]},
        },
        headers={**org.auth("cx"), "Idempotency-Key": "k1"},
    )
    assert made.status_code == 201, made.text
    rider = made.json()
    assert rider["path"] == "配送 > 骑手"
    replay = client.post(
        "/api/v1/text/topics",
        json={
            "name": {"zh-CN": "骑手", "en": "Rider"},
            "parent_id": delivery["id"],
            "keywords": {"zh": ["骑手", "小哥"]},
        },
        headers={**org.auth("cx"), "Idempotency-Key": "k1"},
    )
    assert replay.status_code == 200 and replay.json()["id"] == rider["id"]
    changed = client.patch(
        f"/api/v1/text/topics/{rider['id']}", json={"keywords": {"zh": ["骑手"]}}, headers=org.auth("cx")
    )
    assert changed.status_code == 200 and changed.json()["keywords"] == {"zh": ["骑手"]}
    analysed = client.post("/api/v1/text/analyze", json={"texts": ["骑手很有礼貌"]}, headers=org.auth("cx"))
    assert "配送 > 骑手" in [t["path"] for t in analysed.json()["items"][0]["topics"]]

    _problem(
        client.patch(
            f"/api/v1/text/topics/{delivery['id']}", json={"parent_id": rider["id"]}, headers=org.auth("cx")
        ),
        422,
        "validation_failed",
    )
    _problem(
        client.post("/api/v1/text/topics", json={"name": {}}, headers=org.auth("cx")),
        422,
        "validation_failed",
    )
    _problem(
        client.post(
            "/api/v1/text/topics", json={"name": {"en": "x"}, "parent_id": "nope"}, headers=org.auth("cx")
        ),
        422,
        "validation_failed",
    )
    _problem(
        client.post("/api/v1/text/topics", json={"name": {"en": "x"}}, headers=org.auth("analyst")),
        403,
        "permission_denied",
    )
    assert client.delete(f"/api/v1/text/topics/{delivery['id']}", headers=org.auth("cx")).status_code == 204
    _problem(client.get(f"/api/v1/text/topics/{rider['id']}", headers=org.auth("cx")), 404, "topic_not_found")
    assert rows(database_url, "SELECT count(*) FROM text_topics") == [(23 + 1 - 5,)]


def test_a_search_in_either_script_finds_a_traditional_comment(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    taiwan = respond(client, org, survey_id, {"nps": 3, "why": "服務態度很差"})
    mainland = respond(client, org, survey_id, {"nps": 3, "why": "服务态度很差"})
    assert rows(
        database_url, f"SELECT masked_text, folded_text FROM comment_analyses WHERE response_id = '{taiwan}'"
    ) == [("服務態度很差", "服务态度很差")]
    assert rows(
        database_url, f"SELECT folded_text FROM comment_analyses WHERE response_id = '{mainland}'"
    ) == [(None,)]
    for term in ("服務", "服务"):
        found = client.get("/api/v1/text/comments", params={"contains": term}, headers=org.auth("cx")).json()
        assert sorted(c["response_id"] for c in found["items"]) == sorted([taiwan, mainland])
        assert {c["text"] for c in found["items"]} == {"服務態度很差", "服务态度很差"}


def test_explorer_is_scoped_and_a_correction_teaches(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org)
    seat = respond(client, org, survey_id, {"nps": 3, "why": "The seat was cramped"}, unit="SH001")
    respond(client, org, survey_id, {"nps": 2, "why": "送餐太慢"}, unit="GZ001")
    east = client.get("/api/v1/text/comments", headers=org.auth("east")).json()
    assert [c["response_id"] for c in east["items"]] == [seat]
    every = client.get("/api/v1/text/comments", headers=org.auth("cx")).json()["items"]
    assert len(every) == 2
    uncovered = client.get("/api/v1/text/comments?uncovered=true", headers=org.auth("cx")).json()["items"]
    assert [c["text"] for c in uncovered] == ["The seat was cramped"]

    topics = client.get("/api/v1/text/topics", headers=org.auth("cx")).json()["items"]
    quality = next(t for t in topics if t["key"] == "product.quality")
    url = f"/api/v1/text/comments/{seat}/why/corrections"
    corrected = client.post(url, json={"topic_id": quality["id"], "applies": True}, headers=org.auth("store"))
    assert corrected.status_code == 201, corrected.text
    one = client.get(f"/api/v1/text/comments/{seat}/why", headers=org.auth("store")).json()
    assert [(t["topic_path"], t["source"]) for t in one["topics"]] == [("产品 > 质量", "manual")]
    # The job refit the tenant's topic model from the correction.
    assert rows(database_url, "SELECT kind, examples FROM text_models") == [("topics", 1)]
    assert rows(database_url, "SELECT text, applies FROM text_corrections") == [
        ("The seat was cramped", True)
    ]

    removed = client.post(url, json={"topic_id": quality["id"], "applies": False}, headers=org.auth("store"))
    assert removed.status_code == 201
    assert client.get(f"/api/v1/text/comments/{seat}/why", headers=org.auth("store")).json()["topics"] == []

    _problem(
        client.post(url, json={"topic_id": "nope", "applies": True}, headers=org.auth("store")),
        422,
        "validation_failed",
    )
    _problem(
        client.post(
            f"/api/v1/text/comments/{seat}/why/corrections",
            json={"topic_id": quality["id"], "applies": True},
            headers=org.auth("analyst"),
        ),
        403,
        "permission_denied",
    )
    gz = every[0]["response_id"] if every[0]["response_id"] != seat else every[1]["response_id"]
    _problem(
        client.post(
            f"/api/v1/text/comments/{gz}/why/corrections",
            json={"topic_id": quality["id"], "applies": True},
            headers=org.auth("store"),
        ),
        404,
        "comment_not_found",
    )
    assert rows(database_url, "SELECT count(*) FROM text_corrections") == [(2,)]


def test_masking_is_a_tenant_setting(client: TestClient, org: Org, database_url: str) -> None:
    assert client.get("/api/v1/text/settings", headers=org.auth("cx")).json() == {
        "mask_pii": True,
        "keep_original": False,
        "auto_adapt": True,
    }
    put = client.put("/api/v1/text/settings", json={"mask_pii": False}, headers=org.auth("cx"))
    assert put.json() == {"mask_pii": False, "keep_original": False, "auto_adapt": True}
    survey_id = publish(client, org)
    respond(client, org, survey_id, {"nps": 5, "why": "打我电话13812345678"})
    assert rows(database_url, "SELECT masked_text FROM comment_analyses") == [("打我电话13812345678",)]
    _problem(
        client.put("/api/v1/text/settings", json={"mask_pii": True}, headers=org.auth("analyst")),
        403,
        "permission_denied",
    )
    _problem(
        client.put("/api/v1/text/settings", json={"mask_pii": "maybe"}, headers=org.auth("cx")),
        422,
        "validation_failed",
    )


def test_suggestions_come_from_uncovered_comments(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org)
    for text in (
        "the elevator was down all evening",
        "the elevator keeps stopping",
        "no elevator in the east wing",
        "nice view",
    ):
        respond(client, org, survey_id, {"nps": 5, "why": text})
    items = client.get("/api/v1/text/suggestions", headers=org.auth("cx")).json()["items"]
    assert items[0]["keyword"] == "elevator"
    assert items[0]["comments"] == 3
    assert len(items[0]["examples"]) == 3
