"""Filters through other domains' public models: sentiment (text analytics)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

import cxloop.text as text_domain
from cxloop.kit.db import Database
from tests.analytics.support import generate, make_survey, query, submit
from tests.factories import Org, run


def test_sentiment_filter_counts_the_analysed_responses(
    client: TestClient, org: Org, database_url: str
) -> None:
    analysis = getattr(text_domain, "CommentAnalysis", None)
    if analysis is None:
        pytest.skip("text analytics is not installed")
    survey_id = make_survey(client, org)
    ids = submit(client, org, survey_id, generate(30, seed=5))

    async def mark() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                for response_id, sentiment in zip(ids[:12], ["negative"] * 7 + ["positive"] * 5, strict=True):
                    session.add(
                        analysis(
                            tenant_id=org.tenant_id,
                            response_id=response_id,
                            question_id="why",
                            language="zh",
                            sentiment=sentiment,
                            sentiment_score=-0.5 if sentiment == "negative" else 0.5,
                            urgency=[],
                            keywords=[],
                            phrases=[],
                            pii=[],
                            masked_text="...",
                            analyzed_at=datetime.now(UTC),
                        )
                    )
                await session.commit()
        finally:
            await db.dispose()

    run(mark())
    negative = query(client, org, metrics=["n"], filters={"sentiment": "negative"}).json()
    assert negative["source"] == "raw" and negative["rows"][0]["n"] == 7
    bad = query(client, org, metrics=["n"], filters={"sentiment": "angry"})
    assert bad.status_code == 422
