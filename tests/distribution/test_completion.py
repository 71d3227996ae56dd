"""A response through the invitation's short link completes the invitation
(the collection pipeline subscriber), and stops its reminders."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.web.pages import respond
from tests.collection.respond_helpers import send
from tests.distribution.helpers import configure_email, invite, rows
from tests.distribution.support import FakeDirectory
from tests.factories import Org

ONE_QUESTION: dict[str, Any] = {
    "title": {"zh-CN": "回访", "en": "Follow-up"},
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {"id": "p1", "questions": [{"id": "nps", "type": "nps", "text": {"zh-CN": "推荐", "en": "R"}}]}
    ],
}


def test_answering_through_the_link_completes_the_invitation(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    inbox: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(respond, "MIN_SECONDS_FIRST_PAGE", 0.0)
    _box, controller = inbox
    configure_email(client, org, controller.port)
    created = client.post("/api/v1/surveys", json={"definition": ONE_QUESTION}, headers=org.auth("cx"))
    survey_id = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    made = invite(client, org, people.add(email="li@example.com"), survey_id)

    page = client.get(made["short_path"])  # follows to the personal link
    assert page.status_code == 200
    done = send(client, survey_id, page.text, {"q.nps": "9"})
    assert done.status_code == 200
    status, responded = rows(
        database_url, f"SELECT status, responded_at FROM invitations WHERE id = '{made['id']}'"
    )[0]
    assert status == "completed" and responded is not None
    (channel,) = rows(database_url, "SELECT channel FROM responses")[0]
    assert channel == "email"
