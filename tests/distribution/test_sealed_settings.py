"""The secrets among a channel's provider settings are stored sealed: the plain column keeps
the other settings and a mask, the API shows the mask, sends still sign with the secret,
a masked value sent back keeps it, and key rotation re-seals it."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.customers import crypto
from cxloop.customers.rotation import reencrypt_batch
from cxloop.kit.crypto import aad, keyring
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings
from tests.distribution.helpers import invite, make_survey, rows
from tests.distribution.provider_server import ProviderServer
from tests.distribution.support import FakeDirectory
from tests.distribution.test_sms import PHONE, aliyun_route
from tests.factories import Org

SECRET = "aliyun-secret-7d41c0"
NEW_KEY = "k2:" + base64.urlsafe_b64encode(b"\x0b" * 32).decode()


def _put(client: TestClient, org: Org, provider: ProviderServer, secret: str) -> dict[str, Any]:
    answer = client.put(
        "/api/v1/channels/sms",
        json={
            "provider": "aliyun",
            "config": {
                "endpoint": provider.base + "/aliyun/",
                "access_key_id": "AK",
                "access_key_secret": secret,
                "sign_name": "签名",
                "template_code": "SMS_1",
            },
        },
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _stored(database_url: str) -> tuple[dict[str, Any], str | None, str, str]:
    [(config, sealed, tenant_id, row_id)] = rows(
        database_url, "SELECT config, secrets_enc, tenant_id, id FROM channel_configs"
    )
    return _json(config), sealed, tenant_id, row_id


def _opened(database_url: str) -> Any:
    _config, sealed, tenant_id, row_id = _stored(database_url)
    assert sealed is not None
    return json.loads(keyring().decrypt(sealed, aad(tenant_id, "channel_configs", "secrets", row_id)))


def test_the_secret_is_sealed_masked_in_the_api_and_still_signs(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    provider.routes["/aliyun/"] = aliyun_route(SECRET)
    shown = _put(client, org, provider, SECRET)
    assert shown["config"]["access_key_secret"] == "********"
    config, sealed, _tenant, _row = _stored(database_url)
    assert config == {
        "endpoint": provider.base + "/aliyun/",
        "access_key_id": "AK",
        "access_key_secret": "********",
        "sign_name": "签名",
        "template_code": "SMS_1",
    }
    assert sealed is not None and sealed.startswith("k1:") and SECRET not in sealed
    assert _opened(database_url) == {"access_key_secret": SECRET}
    listed = client.get("/api/v1/channels", headers=org.auth("admin")).json()["items"]
    assert SECRET not in json.dumps(listed)

    contact = people.add(phone=PHONE, language="zh-CN")
    invite(client, org, contact, make_survey(client, org), channel="sms")
    assert rows(database_url, "SELECT status FROM invitations") == [("sent",)]

    # The mask sent back keeps the stored secret; the provider still accepts the signature.
    _put(client, org, provider, "********")
    assert _opened(database_url) == {"access_key_secret": SECRET}
    invite(client, org, people.add(phone="+8613800000001"), make_survey(client, org), channel="sms")
    assert rows(database_url, "SELECT status FROM invitations ORDER BY created_at") == [("sent",), ("sent",)]

    # A new secret replaces it.
    _put(client, org, provider, "the-next-secret")
    assert _opened(database_url) == {"access_key_secret": "the-next-secret"}


def test_settings_without_secrets_seal_nothing(client: TestClient, org: Org, database_url: str) -> None:
    answer = client.put(
        "/api/v1/channels/email",
        json={"provider": "smtp", "config": {"host": "127.0.0.1", "port": 2525, "security": "none"}},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200, answer.text
    config, sealed, _tenant, _row = _stored(database_url)
    assert (config, sealed) == ({"host": "127.0.0.1", "port": 2525, "security": "none"}, None)


def test_rotation_reseals_the_secret_and_sending_still_signs(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    provider: ProviderServer,
    database_url: str,
    settings: Settings,
) -> None:
    provider.routes["/aliyun/"] = aliyun_route(SECRET)
    _put(client, org, provider, SECRET)
    old = (settings.data_dir / "field.keys").read_text().strip()
    crypto.configure(settings.model_copy(update={"field_keys": f"{NEW_KEY},{old}"}))

    async def rotate() -> int:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                done = (await reencrypt_batch(session)).changed
                await session.commit()
            return done
        finally:
            await db.dispose()

    assert asyncio.run(rotate()) == 1
    assert asyncio.run(rotate()) == 0
    _config, sealed, _tenant, _row = _stored(database_url)
    assert sealed is not None and sealed.startswith("k2:")
    crypto.configure(settings.model_copy(update={"field_keys": NEW_KEY}))
    invite(client, org, people.add(phone=PHONE, language="zh-CN"), make_survey(client, org), channel="sms")
    assert rows(database_url, "SELECT status FROM invitations") == [("sent",)]


def test_a_mask_sent_back_for_a_secret_no_key_opens_is_a_422_and_keeps_the_row(
    client: TestClient, org: Org, provider: ProviderServer, database_url: str, settings: Settings
) -> None:
    _put(client, org, provider, SECRET)
    before = _stored(database_url)
    crypto.configure(settings.model_copy(update={"field_keys": NEW_KEY}))  # k1 dropped too early
    kept = client.put(
        "/api/v1/channels/sms",
        json={
            "provider": "aliyun",
            "config": {
                "endpoint": provider.base + "/aliyun/",
                "access_key_id": "AK2",
                "access_key_secret": "********",
                "sign_name": "签名",
                "template_code": "SMS_1",
            },
        },
        headers=org.auth("admin"),
    )
    assert kept.status_code == 422, kept.text
    assert kept.headers["content-type"] == "application/problem+json"
    problem = kept.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"] == [
        {
            "path": "config.access_key_secret",
            "message": "the stored value does not decrypt with the configured field keys: enter it again",
        }
    ]
    assert _stored(database_url) == before  # nothing written
    # Given again in clear, it is sealed under the key that is configured now.
    _put(client, org, provider, "the-secret-given-again")
    assert _opened(database_url) == {"access_key_secret": "the-secret-given-again"}
    assert str(_stored(database_url)[1]).startswith("k2:")


def test_the_worker_s_log_never_shows_a_secret_a_provider_takes_in_its_query_string(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    provider: ProviderServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # WeCom's gettoken takes the corp secret (sealed at rest) in its query string; the
    # HTTP client logs every request's URL at INFO, the level `cxloop worker` logs at.
    from cxloop.cli.runtime import configure_logging
    from tests.distribution.test_wechat import FakeWeChat, configure

    FakeWeChat(provider, "/cgi-bin/gettoken", "/cgi-bin/message/send", wecom=True)
    configure(
        client,
        org,
        "wecom",
        "wecom",
        {"endpoint": provider.base, "corp_id": "ww1", "corp_secret": "CS", "agent_id": "1000002"},
    )
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        configure_logging()
        caplog.set_level(logging.INFO)
        invite(client, org, people.add(wecom_userid="zhangsan"), make_survey(client, org), channel="wecom")
        assert rows(database_url, "SELECT status, channel FROM invitations") == [("sent", "wecom")]
        assert "corpsecret" not in caplog.text
        assert "access_token=" not in caplog.text
    finally:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
