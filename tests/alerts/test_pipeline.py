"""Stored responses go through the rules: alerts once per rule and response, notifications
to real servers on 127.0.0.1 (SMTP, apprise JSON, SMS gateway), escaped content, failures
retried without touching the alert."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from cxloop.alerts.service import clear_cache, tenant_config
from cxloop.alerts.tasks import evaluate_stored
from cxloop.kit.db import Database
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.factories import Org


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                (
                    list(envelope.rcpt_tos),
                    email.message_from_bytes(envelope.content, policy=email.policy.default),
                )
            )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # the controller's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _channel(
    client: TestClient, org: Org, name: str, kind: str, config: dict[str, Any], **extra: Any
) -> None:
    answer = client.post(
        "/api/v1/alert-channels",
        json={"name": name, "kind": kind, "config": config, **extra},
        headers=org.auth("cx"),
    )
    assert answer.status_code == 201, answer.text


def _parts(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_subtype()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def test_a_detractor_fires_once_and_the_store_manager_gets_an_escaped_email(
    client: TestClient, org: Org, database_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    _channel(
        client,
        org,
        "mail",
        "email",
        {"host": "127.0.0.1", "port": port, "from": "alerts@acme.test", "to": ["cx-team@acme.test"]},
    )
    survey = make_survey(client, org)
    definition = {
        **DETRACTOR,
        "priority": "high",
        "actions": {"notify": [{"to": "unit_manager"}, {"to": "channel", "channel": "mail"}]},
    }
    created = rule(client, org, definition)
    comment = "<script>alert(1)</script> 太差了"
    rid = submit(client, org, survey, {"nps": 2, "csat": 1, "comment": comment})
    submit(client, org, survey, {"nps": 10})

    alerts = client.get("/api/v1/alerts", headers=org.auth("cx")).json()["items"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["rule_id"], alert["response_id"], alert["unit_code"], alert["priority"]) == (
        created["id"],
        rid,
        "SH001",
        "high",
    )
    assert alert["summary"]["key_answers"] == [["nps", 2], ["csat", 1]]
    assert alert["summary"]["comment"] == comment

    by_rcpt = {tuple(rcpts): message for rcpts, message in inbox.messages}
    assert set(by_rcpt) == {("store@acme.test",), ("cx-team@acme.test",)}
    mail = by_rcpt[("store@acme.test",)]
    assert mail["Subject"] == "[预警] Detractor · 上海南京路店"
    parts = _parts(mail)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 太差了" in parts["html"]
    assert "<script>" not in parts["html"]
    assert f"http://localhost:8000/alerts?response={rid}" in parts["plain"]
    sent = rows(database_url, "SELECT status, attempts, medium FROM alert_notifications ORDER BY recipient")
    assert sent == [("sent", 1, "email"), ("sent", 1, "email")]

    # The store manager of SH001 sees it; the south region does not.
    assert [a["id"] for a in client.get("/api/v1/alerts", headers=org.auth("store")).json()["items"]] == [
        alert["id"]
    ]
    assert client.get("/api/v1/alerts", headers=org.auth("agent")).json()["items"] != []
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=org.auth("east")).status_code == 200


def test_managers_are_found_up_the_tree(client: TestClient, org: Org, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _channel(client, org, "mail", "email", {"host": "127.0.0.1", "port": port, "to": ["x@acme.test"]})
    survey = make_survey(client, org)
    rule(client, org, {**DETRACTOR, "actions": {"notify": [{"to": "unit_manager"}]}})
    # SH002 has no manager of its own: the East region's manager is the nearest.
    submit(client, org, survey, {"nps": 1}, unit="SH002")
    assert [rcpts for rcpts, _ in inbox.messages] == [["east@acme.test"]]


def test_re_running_the_subscriber_fires_nothing_twice(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey = make_survey(client, org)
    rule(client, org, DETRACTOR)
    rule(client, org, {"kind": "response", "condition": {"words": {}}}, name="Complaint")
    rid = submit(client, org, survey, {"nps": 3, "comment": "我要去12315投诉"})
    assert rows(database_url, "SELECT count(*) FROM alerts") == [(2,)]

    async def again() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                await evaluate_stored(session, rid, {"response_id": rid})
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(again())
    assert rows(database_url, "SELECT count(*) FROM alerts") == [(2,)]


def test_chat_robots_get_markdown_escaped_text_and_a_failing_channel_is_retried(
    client: TestClient, org: Org, database_url: str
) -> None:
    with receiver() as robot, receiver(status=[500]) as sms:
        _channel(
            client,
            org,
            "wecom-east",
            "apprise",
            {"url": f"json://127.0.0.1:{robot.port}/robot"},
            language="en",
        )
        _channel(client, org, "sms", "sms", {"url": f"{sms.url}/send", "to": ["+8613800000000"]})
        survey = make_survey(client, org)
        definition = {
            **DETRACTOR,
            "actions": {
                "notify": [{"to": "channel", "channel": "wecom-east"}, {"to": "channel", "channel": "sms"}]
            },
        }
        rule(client, org, definition)
        submit(client, org, survey, {"nps": 0, "comment": "[click](http://evil.example) **now**"})
        robot_got = robot.wait(1)
        assert len(robot_got) == 1
        posted = robot_got[0].json()
        assert posted["title"] == "[Alert] Detractor · Shanghai Nanjing Rd"
        assert "\\[click\\]\\(http://evil\\.example\\) \\*\\*now\\*\\*" in posted["message"]
        # The SMS gateway failed once: logged on the row, the alert stands, a retry is queued.
        assert len(sms.wait(1)) == 1
        state = rows(
            database_url,
            "SELECT n.status, n.attempts, n.last_error FROM alert_notifications n WHERE n.medium = 'sms'",
        )
        assert state == [("pending", 1, "SendFailed: SMS gateway answered 500")]
        assert rows(database_url, "SELECT count(*) FROM alerts") == [(1,)]
        retry = rows(
            database_url,
            "SELECT count(*) FROM outbox_jobs"
            " WHERE name = 'alerts.notify' AND status IN ('pending', 'dispatched')",
        )
        assert retry == [(1,)]
        log = client.get("/api/v1/alert-notifications", headers=org.auth("cx")).json()["items"]
        assert sorted((n["medium"], n["status"]) for n in log) == [("apprise", "sent"), ("sms", "pending")]


def test_filters_words_and_contact_fields(client: TestClient, org: Org, database_url: str) -> None:
    survey = make_survey(client, org)
    rule(
        client,
        org,
        {
            "kind": "response",
            "filters": {"units": ["SOUTH"], "channels": ["wechat"]},
            "condition": {
                "any": [
                    {"words": {"questions": ["comment"], "lists": ["complaint_en"], "terms": ["曝光"]}},
                    {"source": "embedded", "field": "tier", "op": "eq", "value": "vip"},
                ]
            },
        },
    )
    submit(
        client, org, survey, {"nps": 9, "comment": "I will call my lawyer"}, unit="SH001", channel="wechat"
    )
    submit(client, org, survey, {"nps": 9, "comment": "no issue at all"}, unit="GZ001", channel="wechat")
    hit1 = submit(client, org, survey, {"nps": 9, "comment": "要曝光你们"}, unit="GZ001", channel="wechat")
    hit2 = submit(client, org, survey, {"nps": 9}, unit="GZ001", channel="wechat", embedded={"tier": "vip"})
    submit(client, org, survey, {"nps": 9, "comment": "lawyer"}, unit="GZ001", channel="api")
    fired = rows(database_url, "SELECT response_id FROM alerts ORDER BY response_id")
    assert fired == sorted([(hit1,), (hit2,)])


def test_the_rule_cache_follows_changes(client: TestClient, org: Org, database_url: str) -> None:
    clear_cache()
    survey = make_survey(client, org)
    created = rule(client, org, DETRACTOR)
    submit(client, org, survey, {"nps": 1})
    client.post(f"/api/v1/alert-rules/{created['id']}/disable", headers=org.auth("cx"))
    submit(client, org, survey, {"nps": 1})
    assert rows(database_url, "SELECT count(*) FROM alerts") == [(1,)]

    async def cached() -> int:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return len((await tenant_config(session, org.tenant_id)).rules)
        finally:
            await db.dispose()

    assert asyncio.run(cached()) == 0
    assert json.dumps(rows(database_url, "SELECT version FROM alert_config_versions")) == "[[2]]"
