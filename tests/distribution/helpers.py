"""Shared set-up for the distribution API tests."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import make_survey, rows
from tests.factories import Org

__all__ = ["configure_email", "invite", "make_survey", "rows", "short_code", "tables"]


def configure_email(client: TestClient, org: Org, port: int, **extra: Any) -> None:
    config = {"host": "127.0.0.1", "port": port, "security": "none", "from": "Acme <survey@acme.test>"}
    config.update(extra)
    answer = client.put(
        "/api/v1/channels/email", json={"provider": "smtp", "config": config}, headers=org.auth("admin")
    )
    assert answer.status_code == 200, answer.text


def invite(client: TestClient, org: Org, contact_id: str, survey_id: str, **extra: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/invitations",
        json={"contact_id": contact_id, "survey_id": survey_id, **extra},
        headers=org.auth("cx"),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def short_code(text: str) -> str:
    match = re.search(r"/i/([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


def tables(database_url: str) -> dict[str, int]:
    names = ("invitations", "survey_links", "delivery_attempts", "outbox_jobs", "frequency_rules")
    return {name: rows(database_url, f"SELECT count(*) FROM {name}")[0][0] for name in names}
