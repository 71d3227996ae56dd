"""Webhook signing secrets and alert channel settings are stored sealed: a raw read of the
rows shows ciphertext under the active key; deliveries still sign with the original
secret and channels still send; key rotation re-seals them and they keep working."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from fastapi.testclient import TestClient

from cxloop.alerts import verify_webhook
from cxloop.customers import crypto
from cxloop.customers.rotation import reencrypt_batch, stale_counts
from cxloop.kit.crypto import aad, keyring
from cxloop.kit.db import Database
from cxloop.kit.sealed import Rotated
from cxloop.kit.settings import Settings
from tests.alerts.support import DETRACTOR, Received, make_survey, receiver, rows, rule, submit
from tests.cli.conftest import Cli, cli  # noqa: F401  (the fixture)
from tests.factories import Org

SECRET = "whsec_original-secret-for-the-tests-0123"
ROBOT_KEY = "robot-key-6f1c2a"
TOKEN = "gateway-token-93be"
PHONE = "+8613812345678"
NEW_KEY = "k2:" + base64.urlsafe_b64encode(b"\x09" * 32).decode()


def _webhook(client: TestClient, org: Org, url: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": ["response.created"], "secret": SECRET},
        headers={**org.auth("cx"), **headers},
    )


def _sms_channel(client: TestClient, org: Org, base: str) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/alert-channels",
        json={
            "name": "duty-sms",
            "kind": "sms",
            "config": {"url": f"{base}/send?key={ROBOT_KEY}", "token": TOKEN, "to": [PHONE]},
        },
        headers=org.auth("cx"),
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _signed(request: Received) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return verify_webhook(SECRET, headers["x-cxloop-timestamp"], request.body, headers["x-cxloop-signature"])


def _rotate(database_url: str, limit: int) -> Rotated:
    async def go() -> Rotated:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                done = await reencrypt_batch(session, limit)
                await session.commit()
            return done
        finally:
            await db.dispose()

    return asyncio.run(go())


def _stale(database_url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return {name: n for name, n in (await stale_counts(session)).items() if n}
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_a_webhook_secret_is_stored_sealed_and_deliveries_sign_with_the_original(
    client: TestClient, org: Org, database_url: str
) -> None:
    with receiver() as server:
        created = _webhook(client, org, f"{server.url}/hooks", **{"Idempotency-Key": "hook-1"})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["secret"] == SECRET  # shown once, in the answer that created it
        [(stored, tenant_id, hook_id)] = rows(database_url, "SELECT secret_enc, tenant_id, id FROM webhooks")
        assert stored.startswith("k1:") and SECRET not in stored and "original-secret" not in stored
        assert keyring().decrypt(stored, aad(tenant_id, "webhooks", "secret", hook_id)) == SECRET
        # The stored answer of the idempotent create lacks the secret, and so does its replay.
        [(kept,)] = rows(database_url, "SELECT response FROM idempotency_keys")
        kept_text = kept if isinstance(kept, str) else json.dumps(kept)
        assert SECRET not in kept_text
        replay = _webhook(client, org, f"{server.url}/hooks", **{"Idempotency-Key": "hook-1"})
        assert replay.status_code == 200 and replay.json() == {**hook, "secret": None}
        assert rows(database_url, "SELECT count(*) FROM webhooks") == [(1,)]
        # Never returned afterwards.
        assert client.get(f"/api/v1/webhooks/{hook_id}", headers=org.auth("cx")).json()["secret"] is None
        assert [
            w["secret"] for w in client.get("/api/v1/webhooks", headers=org.auth("cx")).json()["items"]
        ] == [None]

        submit(client, org, make_survey(client, org), {"nps": 9})
        [request] = server.wait(1)
        assert _signed(request)


def test_a_channel_s_settings_are_stored_sealed_and_still_send(
    client: TestClient, org: Org, database_url: str
) -> None:
    with receiver() as gateway:
        channel = _sms_channel(client, org, gateway.url)
        assert set(channel) == {"id", "name", "kind", "language", "enabled", "created_at"}
        [(stored, tenant_id)] = rows(database_url, "SELECT config_enc, tenant_id FROM alert_channels")
        assert stored.startswith("k1:")
        for clear in (ROBOT_KEY, TOKEN, PHONE, "13812345678", "send?key"):
            assert clear not in stored
        opened = keyring().decrypt(stored, aad(tenant_id, "alert_channels", "config", channel["id"]))
        assert json.loads(opened) == {
            "url": f"{gateway.url}/send?key={ROBOT_KEY}",
            "token": TOKEN,
            "to": [PHONE],
        }
        listed = client.get("/api/v1/alert-channels", headers=org.auth("cx")).json()["items"]
        assert ROBOT_KEY not in json.dumps(listed) and TOKEN not in json.dumps(listed)

        rule(client, org, {**DETRACTOR, "actions": {"notify": [{"to": "channel", "channel": "duty-sms"}]}})
        submit(client, org, make_survey(client, org), {"nps": 1})
        [request] = gateway.wait(1)
        assert request.path == f"/send?key={ROBOT_KEY}"
        assert {k.lower(): v for k, v in request.headers.items()}["authorization"] == f"Bearer {TOKEN}"
        assert request.json()["to"] == [PHONE]
        assert rows(database_url, "SELECT status FROM alert_notifications") == [("sent",)]


def test_rotation_reseals_secrets_in_batches_and_sending_still_works(
    client: TestClient, org: Org, database_url: str, settings: Settings
) -> None:
    with receiver() as server, receiver() as gateway:
        assert _webhook(client, org, f"{server.url}/hooks").status_code == 201
        _sms_channel(client, org, gateway.url)
        old = (settings.data_dir / "field.keys").read_text().strip()
        crypto.configure(settings.model_copy(update={"field_keys": f"{NEW_KEY},{old}"}))
        assert _stale(database_url) == {"alert_channels.config_enc": 1, "webhooks.secret_enc": 1}
        # One value per batch: an interrupted rotation leaves whole values, the next run does the rest.
        # A full batch says more may follow; the batch that finds fewer than it may take says done.
        first = _rotate(database_url, 1)
        assert (first, first.more) == (Rotated(examined=1, changed=1, limit=1), True)
        assert sum(_stale(database_url).values()) == 1
        rest = _rotate(database_url, 1000)
        assert (rest, rest.more) == (Rotated(examined=1, changed=1, limit=1000), False)
        # idempotent: nothing is under the old key any more
        assert _rotate(database_url, 1000) == Rotated(examined=0, changed=0, limit=1000)
        assert _stale(database_url) == {}
        sealed = rows(database_url, "SELECT secret_enc FROM webhooks") + rows(
            database_url, "SELECT config_enc FROM alert_channels"
        )
        assert [str(value)[:3] for (value,) in sealed] == ["k2:", "k2:"]

        # With the old key gone, deliveries still sign with the original secret and the channel sends.
        crypto.configure(settings.model_copy(update={"field_keys": NEW_KEY}))
        rule(client, org, {**DETRACTOR, "actions": {"notify": [{"to": "channel", "channel": "duty-sms"}]}})
        submit(client, org, make_survey(client, org), {"nps": 2})
        [request] = server.wait(1)
        assert _signed(request)
        [sms] = gateway.wait(1)
        assert {k.lower(): v for k, v in sms.headers.items()}["authorization"] == f"Bearer {TOKEN}"


def test_a_secret_whose_key_was_removed_is_not_sent_unsigned(
    client: TestClient, org: Org, database_url: str, settings: Settings
) -> None:
    with receiver() as server, receiver() as gateway:
        assert _webhook(client, org, f"{server.url}/hooks").status_code == 201
        _sms_channel(client, org, gateway.url)
        rule(client, org, {**DETRACTOR, "actions": {"notify": [{"to": "channel", "channel": "duty-sms"}]}})
        crypto.configure(settings.model_copy(update={"field_keys": NEW_KEY}))  # k1 dropped too early
        submit(client, org, make_survey(client, org), {"nps": 3})
        assert server.wait(1, timeout=1.0) == [] and gateway.wait(1, timeout=0.5) == []
        state = rows(
            database_url, "SELECT status, attempts, last_status_code, last_error FROM webhook_deliveries"
        )
        assert state == [
            (
                "pending",
                1,
                None,
                "the signing secret does not decrypt: its key is missing from CXLOOP_FIELD_KEYS",
            )
        ]
        notified = rows(database_url, "SELECT status, attempts, last_error FROM alert_notifications")
        assert notified == [
            (
                "pending",
                1,
                "SendFailed: the channel's settings do not decrypt:"
                " their key is missing from CXLOOP_FIELD_KEYS",
            )
        ]


def test_the_reencrypt_command_covers_webhooks_and_both_kinds_of_channel(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    database_url: str,
    settings: Settings,
) -> None:
    assert _webhook(client, org, "http://127.0.0.1:9/hooks").status_code == 201
    _sms_channel(client, org, "http://127.0.0.1:9")
    put = client.put(
        "/api/v1/channels/sms",
        json={"provider": "http", "config": {"url": "http://127.0.0.1:9/sms", "token": TOKEN}},
        headers=org.auth("admin"),
    )
    assert put.status_code == 200, put.text
    old = (settings.data_dir / "field.keys").read_text().strip()
    env: dict[str, str | None] = {
        "CXLOOP_DATA_DIR": str(settings.data_dir),
        "CXLOOP_SECRET_KEY": settings.secret_key,
        "CXLOOP_FIELD_KEYS": f"{NEW_KEY},{old}",
    }
    counted = cli("contacts", "reencrypt", "--dry-run", env=env)
    assert counted.exit_code == 0, counted.output
    assert counted.stdout == "3 value(s) are sealed with an older key\n"
    assert counted.stderr == (
        "alert_channels.config_enc: 1\nchannel_configs.secrets_enc: 1\nwebhooks.secret_enc: 1\n"
    )
    done = cli("contacts", "reencrypt", env=env)
    assert done.exit_code == 0, done.output
    assert done.stdout == "re-encrypted 3 row(s) with key k2\n"
    again = cli("contacts", "reencrypt", "--dry-run", env={**env, "CXLOOP_FIELD_KEYS": NEW_KEY})
    assert again.stdout == "0 value(s) are sealed with an older key\n" and again.stderr == ""
    # A ring that lacks the key a value is under is refused with a message, not a traceback.
    crypto.configure(settings.model_copy(update={"field_keys": f"{NEW_KEY},{old}"}))
    assert _webhook(client, org, "http://127.0.0.1:9/other").status_code == 201  # sealed under k2
    missing = cli("contacts", "reencrypt", env={**env, "CXLOOP_FIELD_KEYS": old})
    assert missing.exit_code == 2
    assert "is every old key still listed in CXLOOP_FIELD_KEYS?" in missing.stderr


def test_a_key_id_that_differs_only_in_case_is_another_key_for_rotation(
    client: TestClient, org: Org, database_url: str, settings: Settings
) -> None:
    # "K1" and "k1" are two keys: a value under the older one is stale on either database
    # (SQLite's LIKE ignores case), or the old key could be dropped with values still under it.
    older = "K1:" + base64.urlsafe_b64encode(b"\x05" * 32).decode()
    newer = "k1:" + base64.urlsafe_b64encode(b"\x06" * 32).decode()
    crypto.configure(settings.model_copy(update={"field_keys": older}))
    assert _webhook(client, org, "http://127.0.0.1:9/hooks").status_code == 201
    crypto.configure(settings.model_copy(update={"field_keys": f"{newer},{older}"}))
    assert _stale(database_url) == {"webhooks.secret_enc": 1}
    assert _rotate(database_url, 1000).changed == 1
    assert _stale(database_url) == {}
    [(stored,)] = rows(database_url, "SELECT secret_enc FROM webhooks")
    assert str(stored).startswith("k1:")
