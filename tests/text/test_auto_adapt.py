"""Sentiment re-adapts itself to a tenant's comments as they accumulate (hourly
``text.adapt_due``, then ``text.adapt`` per tenant), unless the tenant turned it off: the English
class mix and word model from the text alone, the Chinese scored model from NPS-scored comments."""

from __future__ import annotations

import asyncio
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from cxloop.kit.db import Database
from cxloop.kit.jobs import OutboxJob, enqueue, run_job
from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import CHINESE_SCORED, chinese_scored_responses, english_responses, publish, respond


def _run(database_url: str, name: str) -> list[str]:
    """Run the job ``name`` now, then return the ids of the ``text.adapt`` jobs waiting."""

    async def go() -> list[str]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                job_id = enqueue(session, name, {})
                await session.commit()
            await run_job(db, job_id)
            async with db.session(write=False) as session:
                waiting = select(OutboxJob.id, OutboxJob.payload).where(
                    OutboxJob.name == "text.adapt", OutboxJob.status.in_(("pending", "dispatched"))
                )
                return [job for job, _ in (await session.execute(waiting)).all()]
        finally:
            await db.dispose()

    return asyncio.run(go())


def _run_adapt(database_url: str, job_ids: list[str]) -> None:
    async def go() -> None:
        db = Database(database_url)
        try:
            for job_id in job_ids:
                await run_job(db, job_id)
        finally:
            await db.dispose()

    asyncio.run(go())


def _models(database_url: str) -> dict[str, tuple[object, int]]:
    return {
        kind: (json.loads(params) if isinstance(params, str) else params, examples)
        for kind, params, examples in rows(database_url, "SELECT kind, params, examples FROM text_models")
    }


def test_the_english_model_adapts_at_200_comments_and_again_when_they_have_doubled(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    english_responses(client, org, survey_id, 199)
    assert _run(database_url, "text.adapt_due") == []
    assert _models(database_url) == {}

    english_responses(client, org, survey_id, 11)
    [job_id] = _run(database_url, "text.adapt_due")
    _run_adapt(database_url, [job_id])
    models = _models(database_url)
    assert set(models) == {"adapted", "prior-en", "reader-en"}
    assert models["prior-en"][1] == models["reader-en"][1] == models["adapted"][1] == 210
    assert models["adapted"][0] == {"scored_comments": {}, "english_comments": 210}
    mix = models["prior-en"][0]
    assert isinstance(mix, dict) and mix["negative"] > 0.5
    [(action, label, details)] = rows(
        database_url, "SELECT action, actor_label, details FROM audit_events WHERE action = 'text.adapted'"
    )
    details = json.loads(details) if isinstance(details, str) else details
    assert (action, label) == ("text.adapted", "automatic adaptation")
    assert details == {
        "comments": 210,
        "english_comments": 210,
        "class_mix": mix,
        "word_model_taught_by": {"negative": 141, "neutral": 34, "positive": 35},
        "scored_comments": {},
    }

    listed = client.get("/api/v1/text/models", headers=org.auth("admin")).json()["items"]
    reader = models["reader-en"][0]
    assert isinstance(reader, dict)
    assert [(item["kind"], item["examples"], item["summary"]) for item in listed] == [
        ("adapted", 210, {"scored_comments": {}, "english_comments": 210}),
        ("prior-en", 210, {"class_mix": mix}),
        (
            "reader-en",
            210,
            {"taught_by": {"negative": 141, "neutral": 34, "positive": 35}, "terms": len(reader["terms"])},
        ),
    ]

    # Not due again until as many new comments have come as it read.
    english_responses(client, org, survey_id, 209)
    assert _run(database_url, "text.adapt_due") == []
    english_responses(client, org, survey_id, 1)
    [again] = _run(database_url, "text.adapt_due")
    _run_adapt(database_url, [again, again])  # a duplicate delivery does nothing more
    assert _models(database_url)["prior-en"][1] == _models(database_url)["adapted"][1] == 420
    assert rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'text.adapted'") == [(2,)]


def test_a_tenant_that_turned_adaptation_off_is_left_alone(
    client: TestClient, org: Org, database_url: str
) -> None:
    assert client.get("/api/v1/text/settings", headers=org.auth("cx")).json() == {
        "mask_pii": True,
        "keep_original": False,
        "auto_adapt": True,
    }
    turned = client.put(
        "/api/v1/text/settings", json={"mask_pii": True, "auto_adapt": False}, headers=org.auth("admin")
    )
    assert turned.status_code == 200, turned.text
    assert turned.json() == {"mask_pii": True, "keep_original": False, "auto_adapt": False}
    survey_id = publish(client, org)
    english_responses(client, org, survey_id, 210)
    assert _run(database_url, "text.adapt_due") == []
    assert _models(database_url) == {}


def test_a_second_adaptation_job_for_the_same_growth_changes_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org)
    english_responses(client, org, survey_id, 210)
    [first] = _run(database_url, "text.adapt_due")
    [_, second] = _run(database_url, "text.adapt_due")  # the first has not run yet
    _run_adapt(database_url, [first])
    stamp = rows(database_url, "SELECT kind, trained_at FROM text_models ORDER BY kind")
    _run_adapt(database_url, [second])
    assert rows(database_url, "SELECT kind, trained_at FROM text_models ORDER BY kind") == stamp
    assert rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'text.adapted'") == [(1,)]


def test_an_adaptation_prepared_before_another_one_committed_is_dropped(
    client: TestClient, org: Org, database_url: str
) -> None:
    from cxloop.kit.jobs import PREPARED
    from cxloop.text.adapt import Adaptation
    from cxloop.text.tasks import run_adapt

    survey_id = publish(client, org)
    english_responses(client, org, survey_id, 210)
    _run_adapt(database_url, _run(database_url, "text.adapt_due"))
    stamp = rows(database_url, "SELECT kind, trained_at, params FROM text_models ORDER BY kind")

    async def late() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                # Prepared when nothing had been adapted yet (seen: None), committed after the other job.
                stale = Adaptation(mix_comments=210, mix={"negative": 0.1, "neutral": 0.1, "positive": 0.8})
                await run_adapt(session, {"tenant_id": org.tenant_id, PREPARED: (stale, None)})
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(late())
    assert rows(database_url, "SELECT kind, trained_at, params FROM text_models ORDER BY kind") == stamp
    assert rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'text.adapted'") == [(1,)]


def test_chinese_scored_comments_adapt_it_and_replace_the_old_word_weights(
    client: TestClient, org: Org, database_url: str
) -> None:
    from cxloop.kit.clock import utc_now
    from cxloop.text import analyze_texts
    from cxloop.text.engine import Context, default_topics
    from cxloop.text.models import TextModel

    async def legacy() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                old = TextModel(tenant_id=org.tenant_id, kind="sentiment-zh", params={"慢": -1.0})
                old.examples, old.trained_at = 40, utc_now()
                session.add(old)
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(legacy())
    survey_id = publish(client, org)
    chinese_scored_responses(client, org, survey_id, 199)
    assert _run(database_url, "text.adapt_due") == []  # Chinese comments count too, from 200
    chinese_scored_responses(client, org, survey_id, 11)
    _run_adapt(database_url, _run(database_url, "text.adapt_due"))
    models = _models(database_url)
    assert set(models) == {"adapted", "scored-zh"}  # the old word weights are gone
    params, examples = models["scored-zh"]
    assert isinstance(params, dict)
    # Two batches of 199 and 11, cycling from the first comment: the passives (NPS 8) are not read.
    assert (examples, params["taught_by"]) == (176, {"negative": 106, "positive": 70})
    assert models["adapted"] == ({"scored_comments": {"zh": 176}, "english_comments": 0}, 210)
    [(details,)] = rows(database_url, "SELECT details FROM audit_events WHERE action = 'text.adapted'")
    details = json.loads(details) if isinstance(details, str) else details
    assert details["scored_comments"] == {"zh": 176}

    # The CX team sees what it learned.
    listed = client.get("/api/v1/text/models", headers=org.auth("cx"))
    assert listed.status_code == 200, listed.text
    items = {item["kind"]: item for item in listed.json()["items"]}
    assert list(items) == ["adapted", "scored-zh"]
    assert items["adapted"]["summary"] == {"scored_comments": {"zh": 176}, "english_comments": 0}
    learned = items["scored-zh"]
    assert learned["examples"] == 176
    a, b, c = params["fuse"]
    # Punctuation ("。", "！") can weigh much but tells a reader nothing: it is not listed.
    readable = {term: w for term, w in params["terms"].items() if any(ch.isalnum() for ch in term)}
    ranked = sorted(readable.items(), key=lambda item: item[1])
    assert learned["summary"] == {
        "taught_by": {"negative": 106, "positive": 70},
        "fuse": {"shipped": a, "tenant": b, "bias": c},
        "terms": len(params["terms"]),
        "most_negative": [term for term, weight in ranked[:10] if weight < 0],
        "most_positive": [term for term, weight in reversed(ranked[-10:]) if weight > 0],
    }
    detractors = [text for text, score in CHINESE_SCORED if score <= 6]
    promoters = [text for text, score in CHINESE_SCORED if score >= 9]
    assert all(any(g in text for text in detractors) for g in learned["summary"]["most_negative"])
    assert all(any(g in text for text in promoters) for g in learned["summary"]["most_positive"])
    # Learned from every store's comments: not for a store manager.
    refused = client.get("/api/v1/text/models", headers=org.auth("store"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"

    # New comments are read with it.
    [expected] = analyze_texts(
        ["汤洒了"], context=Context(topics=default_topics(), scored_models={"zh": params})
    )
    spilt = respond(client, org, survey_id, {"why": "汤洒了"})
    query = f"SELECT sentiment, sentiment_score FROM comment_analyses WHERE response_id = '{spilt}'"
    assert rows(database_url, query) == [(expected.sentiment, expected.sentiment_score)]
    [unadapted] = analyze_texts(["汤洒了"])
    assert expected.sentiment_score != unadapted.sentiment_score
