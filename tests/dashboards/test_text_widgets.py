"""Text widgets on the real engine: topic volume and sentiment trends, topic
impact on NPS, rising phrases and the comment explorer, with exact values,
within the viewer's scope and the anonymity threshold."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.kit.db import Database
from cxloop.kit.ids import new_id
from cxloop.text.models import CommentAnalysis, CommentTopic, TextTopic
from tests.analytics.support import make_survey, submit
from tests.collection.support import rows
from tests.factories import Org, run
from tests.web.conftest import csrf_from, set_password, sign_in

MARCH = [0, 3, 5, 9, 10, 6, 10, 10, 9, 8, 7, 10]
FEB = [8, 8, 8, 8, 8]
UNITS = ["SH001", "SH002", "GZ001"]
STAFF, PRICE, DELIVERY = "Service > Staff", "Price", "Delivery"


def day(month: int, index: int) -> str:
    return datetime(2026, month, 2 + index, 4, 0, tzinfo=UTC).isoformat()


def comment(
    org: Org, response_id: str, question: str, keywords: list[str], phrases: list[str], text: str
) -> CommentAnalysis:
    return CommentAnalysis(
        tenant_id=org.tenant_id,
        response_id=response_id,
        question_id=question,
        language="zh",
        sentiment="neutral",
        sentiment_score=0.0,
        urgency=[],
        keywords=keywords,
        phrases=phrases,
        pii=[],
        masked_text=text,
        analyzed_at=datetime.now(UTC),
    )


@pytest.fixture
def seeded(client: TestClient, org: Org, database_url: str) -> dict[str, Any]:
    survey_id = make_survey(client, org)
    items = [
        {"answers": {"rec": s}, "unit_code": UNITS[i % 3], "submitted_at": day(3, i)}
        for i, s in enumerate(MARCH)
    ] + [{"answers": {"rec": s}, "unit_code": "SH001", "submitted_at": day(2, i)} for i, s in enumerate(FEB)]
    ids = submit(client, org, survey_id, items)
    march, feb = ids[:12], ids[12:]

    async def seed() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                topics = {}
                for path in (STAFF, PRICE, DELIVERY):
                    topics[path] = TextTopic(
                        id=new_id(),
                        tenant_id=org.tenant_id,
                        parent_id=None,
                        key=None,
                        name={"en": path, "zh-CN": path},
                        keywords={},
                        exclude={},
                        position=0,
                        created_at=datetime.now(UTC),
                        updated_at=datetime.now(UTC),
                    )
                    session.add(topics[path])
                await session.flush()

                def tag(response_id: str, question: str, path: str, sentiment: str) -> None:
                    session.add(
                        CommentTopic(
                            tenant_id=org.tenant_id,
                            response_id=response_id,
                            question_id=question,
                            topic_id=topics[path].id,
                            topic_path=path,
                            sentiment=sentiment,
                            source="rule",
                            confidence=1.0,
                            evidence={"matched": ["排队"]},
                        )
                    )

                for i, rid in enumerate(march):
                    words = (["排队"] if i < 8 else []) + (["退款"] if 8 <= i < 12 else [])
                    phrases = ["排队太久"] if i < 3 else []
                    session.add(comment(org, rid, "why", words, phrases, f"第{i}条 排队"))
                session.add(comment(org, march[5], "other", [], [], "又一条"))
                for i, rid in enumerate(feb):
                    words = (["排队"] if i == 0 else []) + (["价格"] if i in (1, 2) else [])
                    session.add(comment(org, rid, "why", words, [], f"二月{i}"))
                for i in range(4):
                    tag(march[i], "why", STAFF, "negative")
                tag(march[4], "why", STAFF, "neutral")
                tag(march[5], "why", STAFF, "positive")
                tag(march[5], "other", STAFF, "negative")
                for i in range(4, 10):
                    tag(march[i], "why", PRICE, "positive")
                for i in range(3):
                    tag(march[i], "why", DELIVERY, "negative")
                for i, rid in enumerate(feb):
                    tag(rid, "why", STAFF, "negative" if i < 3 else "positive")
                await session.commit()
        finally:
            await db.dispose()

    run(seed())
    return {"survey_id": survey_id, "march": march, "feb": feb}


WIDGETS = [
    {
        "id": "topics",
        "type": "topic_trend",
        "query": {"metrics": ["n"], "group_by": ["month"]},
        "position": {"x": 0, "y": 0, "w": 6, "h": 4},
    },
    {
        "id": "impact",
        "type": "topic_impact",
        "query": {"metrics": ["nps"]},
        "position": {"x": 6, "y": 0, "w": 6, "h": 4},
    },
    {
        "id": "rising",
        "type": "rising_phrases",
        "query": {"metrics": ["n"]},
        "position": {"x": 0, "y": 4, "w": 6, "h": 4},
        "text": {"limit": 5, "min_count": 3},
    },
    {
        "id": "explorer",
        "type": "comment_explorer",
        "position": {"x": 6, "y": 4, "w": 6, "h": 6},
        "comments": {"limit": 3},
    },
]


def dashboard(client: TestClient, org: Org, who: str = "cx") -> str:
    made = client.post(
        "/api/v1/dashboards",
        json={"name": "Words", "definition": {"widgets": WIDGETS}},
        headers=org.auth(who),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def data(client: TestClient, org: Org, dashboard_id: str, query: str, who: str = "cx") -> dict[str, Any]:
    got = client.get(f"/api/v1/dashboards/{dashboard_id}/data{query}", headers=org.auth(who))
    assert got.status_code == 200, got.text
    widgets: dict[str, Any] = got.json()["widgets"]
    for name, result in widgets.items():
        assert result["error"] is None, (name, result["error"])
    return widgets


def nps(scores: list[int]) -> float:
    return round((sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores) * 100, 2)


def nps_p(a: list[int], b: list[int]) -> float:
    """Independent z test of two NPS (multinomial variance, n - 1)."""

    def mean_var(scores: list[int]) -> tuple[float, float]:
        values = [1 if s >= 9 else (-1 if s <= 6 else 0) for s in scores]
        mean = sum(values) / len(values)
        return mean, sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values)

    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    z = (ma - mb) / math.sqrt(va + vb)
    return math.erfc(abs(z) / math.sqrt(2))


def test_topic_trends_count_mentions_and_their_worst_sentiment(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    found = data(
        client, org, dashboard(client, org), "?period=custom&date_from=2026-02-01&date_to=2026-03-31"
    )
    topics = found["topics"]
    assert topics["rows"] == [
        {
            "month": "2026-02",
            "topic": STAFF,
            "mentions": 5,
            "negative": 3,
            "neutral": 0,
            "positive": 2,
            "negative_pct": 60.0,
            "net_sentiment": -20.0,
        },
        {
            "month": "2026-03",
            "topic": PRICE,
            "mentions": 6,
            "negative": 0,
            "neutral": 0,
            "positive": 6,
            "negative_pct": 0.0,
            "net_sentiment": 100.0,
        },
        {
            "month": "2026-03",
            "topic": STAFF,
            "mentions": 6,
            "negative": 5,
            "neutral": 1,
            "positive": 0,
            "negative_pct": 83.33,
            "net_sentiment": -83.33,
        },
    ]
    # Delivery (3 responses in March) is below the anonymity threshold of 5.
    assert topics["meta"]["suppressed_groups"] == 1
    assert topics["meta"]["min_n"] == 5


def test_topic_impact_says_which_topics_pull_nps_down(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    found = data(
        client, org, dashboard(client, org), "?period=custom&date_from=2026-03-01&date_to=2026-03-31"
    )
    impact = found["impact"]
    staff_with, staff_without = MARCH[:6], MARCH[6:]
    price_with, price_without = MARCH[4:10], MARCH[:4] + MARCH[10:]
    assert impact["meta"]["nps"] == nps(MARCH) == 16.67
    assert impact["meta"]["suppressed_groups"] == 1
    rows = impact["rows"]
    assert [r["topic"] for r in rows] == [STAFF, PRICE]
    staff, price = rows
    assert staff["n"] == 6 and staff["n_without"] == 6
    assert staff["nps"] == nps(staff_with) == -33.33
    assert staff["nps_without"] == nps(staff_without) == 66.67
    assert staff["difference"] == -100.0
    assert staff["impact"] == -50.0
    assert staff["share_pct"] == 50.0
    assert staff["p_value"] == pytest.approx(nps_p(staff_with, staff_without), abs=1e-6)
    assert price["nps"] == nps(price_with) == 50.0
    assert price["nps_without"] == nps(price_without) == -16.67
    assert price["difference"] == 66.67
    assert price["impact"] == 33.33
    # Holm over the two topics: the smaller p doubled, the larger kept at least that.
    ps = sorted([staff["p_value"], price["p_value"]])
    adjusted = {r["topic"]: r["p_adjusted"] for r in rows}
    assert min(adjusted.values()) == pytest.approx(min(1.0, ps[0] * 2), abs=1e-5)
    assert staff["significant"] is (staff["p_adjusted"] < 0.05)


def test_rising_phrases_compare_shares_with_the_period_before(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    found = data(
        client, org, dashboard(client, org), "?period=custom&date_from=2026-03-01&date_to=2026-03-31"
    )
    rising = found["rising"]
    assert rising["meta"]["comparison_period"] == {"date_from": "2026-01-29", "date_to": "2026-02-28"}
    assert rising["meta"]["comments"] == 13 and rising["meta"]["comments_before"] == 5
    assert [(r["phrase"], r["count"], r["count_before"]) for r in rising["rows"]] == [
        ("排队", 8, 1),
        ("退款", 4, 0),
        ("排队太久", 3, 0),
    ]
    first = rising["rows"][0]
    assert first["share_pct"] == 61.54 and first["share_before_pct"] == 20.0
    assert first["growth_points"] == 41.54
    assert rising["rows"][1]["growth_points"] == 30.77
    # 价格 fell (2 of 5 before, none now) and is not listed.
    assert all(r["phrase"] != "价格" for r in rising["rows"])


def test_the_explorer_lists_comments_with_their_topics(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    found = data(
        client, org, dashboard(client, org), "?period=custom&date_from=2026-03-01&date_to=2026-03-31"
    )
    rows = found["explorer"]["rows"]
    assert len(rows) == 3
    newest = rows[0]
    assert newest["response_id"] == seeded["march"][11]
    assert newest["topics"] == [] and newest["matched"] == []
    by_id = {(r["response_id"], r["question_id"]): r for r in rows}
    assert set(by_id) == {(seeded["march"][i], "why") for i in (9, 10, 11)}
    price = by_id[(seeded["march"][9], "why")]
    assert [t["topic_path"] for t in price["topics"]] == [PRICE]
    assert price["topics"][0]["source"] == "rule" and price["matched"] == ["排队"]


def test_a_store_manager_sees_only_their_store_and_small_groups_are_hidden(
    client: TestClient, org: Org, seeded: dict[str, Any]
) -> None:
    dashboard_id = dashboard(client, org, "store")
    found = data(client, org, dashboard_id, "?period=custom&date_from=2026-02-01&date_to=2026-03-31", "store")
    # SH001 has March responses 0, 3, 6, 9 and all five of February's.
    assert found["topics"]["rows"] == [
        {
            "month": "2026-02",
            "topic": STAFF,
            "mentions": 5,
            "negative": 3,
            "neutral": 0,
            "positive": 2,
            "negative_pct": 60.0,
            "net_sentiment": -20.0,
        }
    ]
    assert found["topics"]["meta"]["suppressed_groups"] == 3
    march = data(client, org, dashboard_id, "?period=custom&date_from=2026-03-01&date_to=2026-03-31", "store")
    assert march["impact"]["rows"] == []
    assert march["rising"]["rows"] == []
    assert {r["unit_code"] for r in march["explorer"]["rows"]} == {"SH001"}


def test_a_text_widget_refuses_a_group_when_saved(client: TestClient, org: Org) -> None:
    bad = {**WIDGETS[1], "query": {"metrics": ["nps"], "group_by": ["month"]}}
    got = client.post(
        "/api/v1/dashboards", json={"name": "Bad", "definition": {"widgets": [bad]}}, headers=org.auth("cx")
    )
    assert got.status_code == 422
    assert "takes no group_by" in got.text


def test_the_explorer_page_marks_matches_and_corrects_a_topic_in_one_click(
    client: TestClient, org: Org, database_url: str, seeded: dict[str, Any]
) -> None:
    dashboard_id = dashboard(client, org)
    set_password(database_url, "cx@acme.test")
    assert sign_in(client, "cx@acme.test").status_code == 303
    where = f"/dashboards/{dashboard_id}?period=custom&date_from=2026-03-01&date_to=2026-03-31"
    page = client.get(where)
    assert page.status_code == 200, page.text
    assert "第9条 <mark>排队</mark>" in page.text
    assert 'action="/dashboards/corrections"' in page.text
    searched = client.get(where + "&q=第9条")
    assert "<mark>第9条</mark> <mark>排队</mark>" in searched.text
    # The same search written in Traditional finds and marks it too.
    assert "<mark>第9条</mark> <mark>排队</mark>" in client.get(where + "&q=第9條").text
    response_id = seeded["march"][9]
    price = rows(database_url, f"SELECT topic_id FROM comment_topics WHERE response_id = '{response_id}'")[0][
        0
    ]
    refused = client.post(
        "/dashboards/corrections",
        data={"csrf_token": "nope", "response_id": response_id, "question_id": "why", "topic_id": price},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert rows(database_url, "SELECT count(*) FROM text_corrections")[0][0] == 0
    done = client.post(
        "/dashboards/corrections",
        data={
            "csrf_token": csrf_from(page.text),
            "response_id": response_id,
            "question_id": "why",
            "topic_id": price,
            "applies": "no",
            "back": where,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == where
    assert rows(database_url, f"SELECT count(*) FROM comment_topics WHERE response_id = '{response_id}'") == [
        (0,)
    ]
    assert rows(database_url, "SELECT applies FROM text_corrections")[0][0] in (False, 0)
    # A "back" outside the dashboards is not followed.
    elsewhere = client.post(
        "/dashboards/corrections",
        data={
            "csrf_token": csrf_from(page.text),
            "response_id": response_id,
            "question_id": "why",
            "topic_id": price,
            "applies": "yes",
            "back": "https://evil.example/x",
        },
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == "/dashboards"
