"""Signed webhooks: subscription API, HMAC over timestamp and body checked by a real
receiver on 127.0.0.1, the same delivery id on every attempt, retries with backoff and
the delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from cxloop.alerts import verify_webhook
from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database
from cxloop.kit.jobs import OutboxJob, RetryLater, run_job
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.factories import Org

SECRET = "s3cret-for-the-tests-0123456789"


def _hook(client: TestClient, org: Org, url: str, events: list[str], secret: str | None = SECRET) -> dict:  # type: ignore[type-arg]
    body = {"url": url, "events": events, **({"secret": secret} if secret else {})}
    answer = client.post("/api/v1/webhooks", json=body, headers=org.auth("cx"))
    assert answer.status_code == 201, answer.text
    created: dict = answer.json()  # type: ignore[type-arg]
    return created


def _run_due(database_url: str, name: str) -> None:
    """Make waiting retries due now and run them (what the relay would do later)."""

    async def go() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                ids = (
                    (
                        await session.execute(
                            update(OutboxJob)
                            .where(OutboxJob.name == name, OutboxJob.status.in_(["pending", "dispatched"]))
                            .values(available_at=utc_now() - timedelta(seconds=1))
                            .returning(OutboxJob.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                await session.commit()
            for job_id in ids:
                with contextlib.suppress(RetryLater):  # a failed run schedules its own retry
                    await run_job(db, job_id)
        finally:
            await db.dispose()

    asyncio.run(go())


def test_response_and_alert_events_arrive_signed(client: TestClient, org: Org, database_url: str) -> None:
    with receiver() as server:
        hook = _hook(client, org, f"{server.url}/hooks", ["response.created", "alert.created"])
        assert hook["secret"] == SECRET
        assert hook["events"] == ["alert.created", "response.created"]
        survey = make_survey(client, org)
        rule(client, org, DETRACTOR)
        rid = submit(client, org, survey, {"nps": 4, "comment": "slow"})
        got = server.wait(2)
        assert len(got) == 2
        events = {}
        for request in got:
            headers = {k.lower(): v for k, v in request.headers.items()}
            assert request.path == "/hooks"
            assert headers["content-type"] == "application/json"
            assert verify_webhook(
                SECRET, headers["x-cxloop-timestamp"], request.body, headers["x-cxloop-signature"]
            )
            assert not verify_webhook(
                "wrong", headers["x-cxloop-timestamp"], request.body, headers["x-cxloop-signature"]
            )
            document = json.loads(request.body)
            assert document["id"] == headers["x-cxloop-delivery"]
            assert document["event"] == headers["x-cxloop-event"]
            events[document["event"]] = document["data"]
        assert events["response.created"]["response_id"] == rid
        assert events["response.created"]["answers"] == {"nps": 4, "comment": "slow"}
        assert events["alert.created"]["response_id"] == rid
        log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=org.auth("cx")).json()["items"]
        assert sorted((d["event"], d["status"], d["attempts"], d["last_status_code"]) for d in log) == [
            ("alert.created", "delivered", 1, 200),
            ("response.created", "delivered", 1, 200),
        ]
        # The secret is shown once.
        assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=org.auth("cx")).json()["secret"] is None
        listed = client.get("/api/v1/webhooks", headers=org.auth("cx")).json()["items"]
        assert [w["secret"] for w in listed] == [None]


def test_a_failing_receiver_gets_retries_with_the_same_delivery_id(
    client: TestClient, org: Org, database_url: str
) -> None:
    with receiver(status=[503, 500]) as server:
        hook = _hook(client, org, server.url, ["response.created"])
        survey = make_survey(client, org)
        submit(client, org, survey, {"nps": 9})
        assert len(server.wait(1)) == 1
        state = rows(
            database_url, "SELECT status, attempts, last_status_code, last_error FROM webhook_deliveries"
        )
        assert state == [("pending", 1, 503, "answered 503")]
        # The retry waits for its backoff (5 s); run it as the relay would once due.
        _run_due(database_url, "alerts.deliver_webhook")
        _run_due(database_url, "alerts.deliver_webhook")
        got = server.wait(3)
        assert len(got) == 3
        ids = {dict((k.lower(), v) for k, v in r.headers.items())["x-cxloop-delivery"] for r in got}
        assert len(ids) == 1
        assert len({r.body for r in got}) == 1  # the same body, so the same event
        (delivery,) = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=org.auth("cx")).json()[
            "items"
        ]
        assert delivery["id"] in ids
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
        assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 500, 200]

        again = client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver", headers=org.auth("cx")
        )
        assert again.status_code == 200
        got = server.wait(4)
        assert dict((k.lower(), v) for k, v in got[-1].headers.items())["x-cxloop-delivery"] == delivery["id"]


def test_a_disabled_webhook_gets_nothing(client: TestClient, org: Org, database_url: str) -> None:
    with receiver() as server:
        hook = _hook(client, org, server.url, ["response.created"], secret=None)
        assert hook["secret"].startswith("whsec_")
        assert (
            client.post(f"/api/v1/webhooks/{hook['id']}/disable", headers=org.auth("cx")).json()["enabled"]
            is False
        )
        survey = make_survey(client, org)
        submit(client, org, survey, {"nps": 9})
        assert rows(database_url, "SELECT count(*) FROM webhook_deliveries") == [(0,)]
        assert server.received == []


def test_bad_webhooks_are_refused_and_only_config_writers_may_touch_them(
    client: TestClient, org: Org, database_url: str
) -> None:
    for body, path in (
        ({"url": "ftp://x.example/a", "events": ["case.created"]}, "url"),
        ({"url": "http://127.0.0.1:9/a", "events": ["case.exploded"]}, "events[0]"),
        ({"url": "http://127.0.0.1:9/a", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/a", "events": ["case.created"], "secret": "short"}, "secret"),
    ):
        answer = client.post("/api/v1/webhooks", json=body, headers=org.auth("cx"))
        assert answer.status_code == 422, body
        assert [e["path"] for e in answer.json()["errors"]] == [path]
    for who in ("east", "store", "agent", "analyst"):
        body = {"url": "http://127.0.0.1:9/a", "events": ["case.created"]}
        assert client.post("/api/v1/webhooks", json=body, headers=org.auth(who)).status_code == 403
        assert client.get("/api/v1/webhooks", headers=org.auth(who)).status_code == 403
    assert rows(database_url, "SELECT count(*) FROM webhooks") == [(0,)]
    missing = client.get("/api/v1/webhooks/01HZZZZZZZZZZZZZZZZZZZZZZZ/deliveries", headers=org.auth("cx"))
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_found")
