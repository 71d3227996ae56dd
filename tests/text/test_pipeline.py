"""Stored and edited responses are analysed by the pipeline, idempotently; facts for alert rules."""

from __future__ import annotations

import asyncio
import json

from fastapi.testclient import TestClient

from cxloop.kit.db import Database
from cxloop.text import response_text_facts
from cxloop.text.service import analyze_response
from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import publish, respond


def test_each_open_text_answer_is_analysed_and_masked(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    response_id = respond(
        client,
        org,
        survey_id,
        {
            "nps": 2,
            "why": "送餐太慢了，等了两个小时，电话13812345678",
            "via": {"choice": "other", "other": "朋友推荐"},
            "liked": [{"choice": "more", "other": "App login keeps failing"}],
            "mail": "not-a-comment@example.com",
        },
    )
    got = rows(
        database_url,
        "SELECT question_id, language, sentiment, masked_text, original_text FROM comment_analyses "
        f"WHERE response_id = '{response_id}' ORDER BY question_id",
    )
    assert got == [
        ("liked", "en", "negative", "App login keeps failing", None),
        ("via", "zh", "positive", "朋友推荐", None),
        ("why", "zh", "negative", "送餐太慢了，等了两个小时，电话[PHONE]", None),
    ]
    topics = rows(
        database_url,
        "SELECT question_id, topic_path, source, sentiment FROM comment_topics "
        f"WHERE response_id = '{response_id}' ORDER BY question_id, topic_path",
    )
    assert topics == [
        ("liked", "App > 登录", "rule", "negative"),
        ("why", "配送 > 配送速度", "rule", "negative"),
    ]


def test_a_rerun_and_an_edit_rewrite_the_same_rows(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, {"nps": 9, "why": "服务态度很好"})

    async def again() -> None:
        db = Database(database_url)
        async with db.session(write=True) as session:
            await analyze_response(session, response_id)
            await analyze_response(session, response_id)
            await session.commit()
        await db.dispose()

    asyncio.run(again())
    query = f"SELECT question_id, sentiment FROM comment_analyses WHERE response_id = '{response_id}'"
    assert rows(database_url, query) == [("why", "positive")]
    assert rows(database_url, f"SELECT count(*) FROM comment_topics WHERE response_id = '{response_id}'") == [
        (1,)
    ]

    edited = client.patch(
        f"/api/v1/responses/{response_id}",
        json={"answers": {"why": "态度恶劣，再也不来了"}, "reason": "typo"},
        headers=org.auth("cx"),
    )
    assert edited.status_code == 200, edited.text
    assert rows(database_url, query) == [("why", "negative")]


def test_facts_for_alert_rules(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, {"nps": 0, "why": "菜里有虫子，吃完拉肚子，我要打12315"})
    quiet = respond(client, org, survey_id, {"nps": 10})

    async def facts() -> tuple[dict[str, object], dict[str, object]]:
        db = Database(database_url)
        async with db.session(write=False) as session:
            one = await response_text_facts(session, org.tenant_id, response_id)
            two = await response_text_facts(session, org.tenant_id, quiet)
        await db.dispose()
        return one, two

    one, two = asyncio.run(facts())
    assert one == {
        "sentiment": "negative",
        "topics": ["门店 > 卫生"],
        "urgency": ["regulator", "safety"],
    }
    assert two == {"sentiment": None, "topics": [], "urgency": []}


PHONE_COMMENT = {
    "nps": 2,
    "why": "送餐太慢了，电话13812345678",
    "via": {"choice": "other", "other": "朋友 a.b@example.com 推荐"},
    "liked": ["a", {"choice": "more", "other": "call me on 13912345678"}],
    "mail": "keep.me@example.com",
}


def test_personal_data_is_redacted_from_the_stored_answers_and_their_export(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, PHONE_COMMENT)
    answers = client.get(f"/api/v1/responses/{response_id}", headers=org.auth("cx")).json()["answers"]
    assert answers == {
        "nps": 2,
        "why": "送餐太慢了，电话[PHONE]",
        "via": {"choice": "other", "other": "朋友 [EMAIL] 推荐"},
        "liked": ["a", {"choice": "more", "other": "call me on [PHONE]"}],
        # An email question is contact data the respondent gave, not a comment.
        "mail": "keep.me@example.com",
    }
    exported = client.get(f"/api/v1/surveys/{survey_id}/responses/export?format=csv", headers=org.auth("cx"))
    assert exported.status_code == 200
    assert "13812345678" not in exported.text and "送餐太慢了，电话[PHONE]" in exported.text

    edited = client.patch(
        f"/api/v1/responses/{response_id}",
        json={"answers": {"why": "还是没人回，打13700001111"}, "reason": "customer added"},
        headers=org.auth("cx"),
    )
    assert edited.status_code == 200, edited.text
    answers = client.get(f"/api/v1/responses/{response_id}", headers=org.auth("cx")).json()["answers"]
    assert answers["why"] == "还是没人回，打[PHONE]"
    history = rows(
        database_url, f"SELECT before, after FROM response_revisions WHERE response_id = '{response_id}'"
    )
    assert [(_json(before), _json(after)) for before, after in history] == [
        ({"why": "送餐太慢了，电话[PHONE]"}, {"why": "还是没人回，打[PHONE]"})
    ]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def test_a_tenant_that_keeps_originals_keeps_the_answers_as_given(
    client: TestClient, org: Org, database_url: str
) -> None:
    kept = client.put(
        "/api/v1/text/settings", json={"mask_pii": True, "keep_original": True}, headers=org.auth("cx")
    )
    assert kept.status_code == 200, kept.text
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, PHONE_COMMENT)
    answers = client.get(f"/api/v1/responses/{response_id}", headers=org.auth("cx")).json()["answers"]
    assert answers["why"] == "送餐太慢了，电话13812345678"
    assert rows(
        database_url,
        f"SELECT masked_text, original_text FROM comment_analyses WHERE response_id = '{response_id}'"
        " AND question_id = 'why'",
    ) == [("送餐太慢了，电话[PHONE]", "送餐太慢了，电话13812345678")]
