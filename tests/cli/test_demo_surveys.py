"""The demo's surveys and responses: published templates, valid answers, real differences."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from sqlalchemy import select

from cxloop.collection.models import Response
from cxloop.collection.validation import check_answers
from cxloop.demo import seed_demo
from cxloop.identity.models import Unit
from cxloop.kit.db import Database
from cxloop.surveys import Survey, SurveyVersion, parse_definition
from tests.cli.test_users import _query

COUNT = 3000


def _seed(url: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            await seed_demo(db, response_count=COUNT)
        finally:
            await db.dispose()

    asyncio.run(run())


def test_demo_surveys_are_published_and_every_response_is_valid(database_url: str) -> None:
    _seed(database_url)
    surveys = _query(database_url, select(Survey.id, Survey.status, Survey.published_version))
    assert sorted(status for _, status, _ in surveys) == ["published"] * 5
    versions = {
        (row[0].survey_id, row[0].version): parse_definition(row[0].definition)
        for row in _query(database_url, select(SurveyVersion))
    }
    titles = sorted(d.title["en"] for d in versions.values())
    assert titles == [
        "Post-purchase satisfaction survey",
        "Relationship NPS survey",
        "SERVQUAL service quality survey",
        "Store visit survey",
        "Support effort survey",
    ]
    responses = [row[0] for row in _query(database_url, select(Response))]
    assert len(responses) == COUNT
    faults = []
    for response in responses:
        definition = versions[(response.survey_id, response.survey_version)]
        errors = check_answers(definition, response.answers, response.embedded, response.contact_ref)
        if errors:
            faults.append((response.id, errors))
    assert faults == []
    assert {r.source for r in responses} == {"demo"}
    assert {r.status for r in responses} == {"complete"}
    assert Counter(r.language for r in responses)["en"] > COUNT * 0.05


def test_demo_responses_differ_by_store_and_carry_comments(database_url: str) -> None:
    _seed(database_url)
    stores = dict(_query(database_url, select(Unit.id, Unit.code).where(Unit.kind == "store")))
    rows = [row[0] for row in _query(database_url, select(Response))]
    assert {r.unit_id for r in rows} == set(stores)
    scores: dict[str, list[int]] = defaultdict(list)
    for response in rows:
        if "nps" in response.answers:
            scores[response.unit_id].append(response.answers["nps"])

    def nps(values: list[int]) -> float:
        return 100 * (sum(v >= 9 for v in values) - sum(v <= 6 for v in values)) / len(values)

    by_store = sorted(nps(v) for v in scores.values() if len(v) >= 20)
    assert by_store[-1] - by_store[0] > 30
    comments = [r.answers.get("reason") for r in rows if r.answers.get("reason")]
    assert len(comments) > COUNT * 0.1
    assert any("12315" in c for c in comments) or any("排队" in c for c in comments)
