"""Published versions are parsed once per process; drafts are never served from the cache."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from cxloop.kit.db import Database
from cxloop.surveys import published_definition
from tests.factories import Org
from tests.surveys.support import definition


def _lookup(database_url: str, survey_id: str, version: int):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await published_definition(session, survey_id, version)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_only_published_versions_are_returned_and_each_is_parsed_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    created = client.post("/api/v1/surveys", json={"definition": definition()}, headers=org.auth("cx"))
    survey_id = created.json()["id"]
    assert _lookup(database_url, survey_id, 1) is None  # a draft
    client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
    first = _lookup(database_url, survey_id, 1)
    assert first is not None and first.title["en"] == "Store survey"
    assert _lookup(database_url, survey_id, 1) is first
    edited = definition(title={"zh-CN": "新", "en": "New"})
    client.put(f"/api/v1/surveys/{survey_id}", json={"definition": edited}, headers=org.auth("cx"))
    assert _lookup(database_url, survey_id, 2) is None  # the next draft
    assert _lookup(database_url, survey_id, 9) is None
