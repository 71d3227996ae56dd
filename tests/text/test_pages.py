"""``/text``: the comment explorer (highlighted matches, one-click corrections) and the taxonomy editor."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import publish, respond
from tests.web.conftest import csrf_from, set_password, sign_in


def _signed_in(client: TestClient, database_url: str, who: str) -> None:
    set_password(database_url, f"{who}@acme.test")
    assert sign_in(client, f"{who}@acme.test").status_code == 303


def test_explorer_marks_matches_and_a_click_corrects(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, {"nps": 2, "why": "送餐太慢了<script>x</script>"})
    _signed_in(client, database_url, "store")
    page = client.get("/text")
    assert page.status_code == 200
    assert "<mark>送餐</mark><mark>太慢</mark>了" in page.text
    assert "<script>x" not in page.text
    assert "配送 &gt; 配送速度" in page.text
    speed = rows(database_url, f"SELECT topic_id FROM comment_topics WHERE response_id = '{response_id}'")[0][
        0
    ]
    posted = client.post(
        "/text/corrections",
        data={
            "csrf_token": csrf_from(page.text),
            "response_id": response_id,
            "question_id": "why",
            "topic_id": speed,
            "applies": "no",
            "back": "/text",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/text"
    assert rows(database_url, f"SELECT count(*) FROM comment_topics WHERE response_id = '{response_id}'") == [
        (0,)
    ]
    assert rows(database_url, "SELECT applies FROM text_corrections") == [(False,)]
    expired = client.post(
        "/text/corrections",
        data={"csrf_token": "nope", "response_id": response_id, "question_id": "why", "topic_id": speed},
    )
    assert expired.status_code == 403
    assert rows(database_url, "SELECT count(*) FROM text_corrections") == [(1,)]


def test_a_traditional_comment_is_shown_as_written_with_its_matches_marked(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    response_id = respond(client, org, survey_id, {"nps": 2, "why": "送餐太慢了，電話13812345678"})
    assert rows(
        database_url, f"SELECT masked_text FROM comment_analyses WHERE response_id = '{response_id}'"
    ) == [("送餐太慢了，電話[PHONE]",)]
    _signed_in(client, database_url, "store")
    page = client.get("/text")
    assert "<mark>送餐</mark><mark>太慢</mark>了，電話[PHONE]" in page.text


def test_a_topic_word_written_in_traditional_matches_both_scripts(
    client: TestClient, org: Org, database_url: str
) -> None:
    _signed_in(client, database_url, "cx")
    page = client.get("/text?tab=taxonomy")
    added = client.post(
        "/text/topics",
        data={"csrf_token": csrf_from(page.text), "name_zh": "洗手間", "name_en": "", "keywords": "洗手間"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    survey_id = publish(client, org)
    traditional = respond(client, org, survey_id, {"nps": 3, "why": "洗手間很髒"})
    simplified = respond(client, org, survey_id, {"nps": 3, "why": "洗手间很脏"})
    [(ours,)] = rows(database_url, "SELECT id FROM text_topics WHERE key IS NULL")
    for response_id in (traditional, simplified):
        assert rows(
            database_url,
            f"SELECT topic_id FROM comment_topics WHERE response_id = '{response_id}'"
            f" AND topic_id = '{ours}'",
        ) == [(ours,)]


def test_taxonomy_tab_adds_a_topic_and_suggests(client: TestClient, org: Org, database_url: str) -> None:
    _signed_in(client, database_url, "cx")
    page = client.get("/text?tab=taxonomy")
    assert page.status_code == 200
    assert "配送速度" in page.text
    added = client.post(
        "/text/topics",
        data={
            "csrf_token": csrf_from(page.text),
            "name_zh": "洗手间",
            "name_en": "",
            "keywords": "厕所，洗手间",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/text?tab=taxonomy&saved=1"
    assert rows(database_url, "SELECT count(*) FROM text_topics WHERE key IS NULL") == [(1,)]
    assert "洗手间" in client.get("/text?tab=taxonomy").text


def test_an_analyst_reads_but_cannot_correct(client: TestClient, org: Org, database_url: str) -> None:
    _signed_in(client, database_url, "analyst")
    page = client.get("/text")
    assert page.status_code == 200
    assert "add-topic" not in page.text
