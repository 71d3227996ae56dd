"""Helpers for the customers tests: raw reads, counts, contacts made through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import Org
from tests.identity.support import engine_for

TABLES = (
    "contacts",
    "contact_identities",
    "consent_records",
    "contact_events",
    "contact_merges",
    "outbox_jobs",
)


def rows(database_url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine_for(database_url) as engine, engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), params).all()]


def written(database_url: str) -> dict[str, int]:
    """Rows a refused write must not leave behind."""
    return {table: rows(database_url, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def make_contact(client: TestClient, org: Org, who: str = "cx", **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/contacts", json=body, headers=org.auth(who))
    assert response.status_code in (200, 201), response.text
    made: dict[str, Any] = response.json()
    return made


def register_types(client: TestClient, org: Org, *names: str) -> None:
    for name in names:
        response = client.post("/api/v1/event-types", json={"name": name}, headers=org.auth("cx"))
        assert response.status_code == 201, response.text


NPS_SURVEY: dict[str, Any] = {
    "title": {"zh-CN": "推荐调研", "en": "NPS"},
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [{"id": "nps", "type": "nps", "text": {"zh-CN": "推荐", "en": "Recommend"}}],
        }
    ],
}


def make_nps_survey(client: TestClient, org: Org) -> str:
    created = client.post("/api/v1/surveys", json={"definition": NPS_SURVEY}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id
