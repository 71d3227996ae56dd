"""Webhooks only reach public addresses unless the operator allows private ones
(SSRF guard): checked when a webhook is created and before every delivery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxloop.kit.settings import get_settings
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.factories import Org

INTERNAL = (
    "http://127.0.0.1:9/a",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
)


def _guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXLOOP_WEBHOOK_PRIVATE_TARGETS", "false")
    get_settings.cache_clear()  # the process's settings are read once


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _guard(monkeypatch)
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_internal_addresses_and_credentials_are_refused_and_nothing_is_stored(
    client: TestClient, org: Org, database_url: str, guarded: None
) -> None:
    for url in INTERNAL:
        answer = client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["case.created"]}, headers=org.auth("cx")
        )
        assert answer.status_code == 422, url
        problem = answer.json()
        assert problem["code"] == "webhook_target_refused", url
        assert [e["path"] for e in problem["errors"]] == ["url"]
        assert "private, loopback or link-local" in problem["errors"][0]["message"], url
    with_password = client.post(
        "/api/v1/webhooks",
        json={"url": "https://user:pw@hooks.example.com/a", "events": ["case.created"]},
        headers=org.auth("cx"),
    )
    assert with_password.status_code == 422
    assert "must not carry a user name or password" in with_password.json()["errors"][0]["message"]
    assert rows(database_url, "SELECT count(*) FROM webhooks") == [(0,)]

    # A public address literal is accepted (no name to resolve, so no network needed).
    public = client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.215.14/hooks", "events": ["case.created"]},
        headers=org.auth("cx"),
    )
    assert public.status_code == 201, public.text
    assert rows(database_url, "SELECT url FROM webhooks") == [("https://93.184.215.14/hooks",)]


def test_a_receiver_that_became_internal_gets_nothing_and_the_log_says_why(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        _a_receiver_that_became_internal(client, org, monkeypatch)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _a_receiver_that_became_internal(client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as server:
        made = client.post(
            "/api/v1/webhooks",
            json={"url": f"{server.url}/hooks", "events": ["response.created"]},
            headers=org.auth("cx"),
        )
        assert made.status_code == 201, made.text
        _guard(monkeypatch)
        survey = make_survey(client, org)
        rule(client, org, DETRACTOR)
        submit(client, org, survey, {"nps": 4, "comment": "slow"})
        assert server.wait(0.5) == []
    log = client.get(f"/api/v1/webhooks/{made.json()['id']}/deliveries", headers=org.auth("cx")).json()
    assert [(d["status"], d["attempts"]) for d in log["items"]] == [("dead", 0)]
    assert log["items"][0]["last_error"].startswith(
        "refused: the URL the host '127.0.0.1' resolves to 127.0.0.1"
    )
