"""SMS: segment counting, and each adapter against a local server that checks
the provider's documented request and signature; receipts and STOP replies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution.channels.sms import segments
from tests.distribution.helpers import invite, make_survey, rows
from tests.distribution.provider_server import ProviderServer, Seen
from tests.distribution.support import FakeDirectory, drive
from tests.factories import Org

PHONE = "+8613800000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello", ("gsm7", 1)),
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("{" * 80, ("gsm7", 1)),  # extension characters take two septets
        ("{" * 81, ("gsm7", 2)),
        ("€" + "a" * 158, ("gsm7", 1)),
        ("评" * 70, ("ucs2", 1)),
        ("评" * 71, ("ucs2", 2)),
        ("评" * 134, ("ucs2", 2)),
        ("评" * 135, ("ucs2", 3)),
        ("a" * 69 + "é" + "ł", ("ucs2", 2)),  # one non-GSM character makes it all UCS-2
        ("😀" * 35, ("ucs2", 1)),  # surrogate pairs count two units
        ("😀" * 36, ("ucs2", 2)),
    ],
)
def test_segments(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


def configure(client: TestClient, org: Org, provider: str, config: dict[str, Any]) -> None:
    answer = client.put(
        "/api/v1/channels/sms", json={"provider": provider, "config": config}, headers=org.auth("admin")
    )
    assert answer.status_code == 200, answer.text


def sent(database_url: str) -> list[tuple[Any, ...]]:
    return rows(database_url, "SELECT status, channel, provider_message_id, attempts FROM invitations")


# --- Aliyun: the documented percent-encoding, written out again independently ---


def aliyun_encode(value: str) -> str:
    return (
        urllib.parse.quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def aliyun_expected_signature(form: dict[str, str], secret: str) -> str:
    params = {k: v for k, v in form.items() if k != "Signature"}
    query = "&".join(f"{aliyun_encode(k)}={aliyun_encode(params[k])}" for k in sorted(params))
    to_sign = "POST&%2F&" + aliyun_encode(query)
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def aliyun_route(secret: str) -> Any:
    def route(seen: Seen) -> tuple[int, dict[str, Any]]:
        form = seen.form()
        if form.get("Signature") != aliyun_expected_signature(form, secret):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
        assert form["Action"] == "SendSms" and form["Version"] == "2017-05-25"
        assert form["SignatureMethod"] == "HMAC-SHA1" and form["SignatureVersion"] == "1.0"
        assert form["Format"] == "JSON" and form["AccessKeyId"] == "AK"
        return 200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "R1"}

    return route


def test_aliyun_send_receipt_and_stop(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    provider.routes["/aliyun/"] = aliyun_route("SECRET")
    configure(
        client,
        org,
        "aliyun",
        {
            "endpoint": provider.base + "/aliyun/",
            "access_key_id": "AK",
            "access_key_secret": "SECRET",
            "sign_name": "阿里云短信测试",
            "template_code": "SMS_154950909",
        },
    )
    contact = people.add(phone=PHONE, language="zh-CN")
    made = invite(client, org, contact, make_survey(client, org), channel="sms")
    assert sent(database_url) == [("sent", "sms", "900619746936498440^0", 1)]
    form = provider.seen[0].form()
    assert form["PhoneNumbers"] == "13800000000"
    assert form["SignName"] == "阿里云短信测试" and form["TemplateCode"] == "SMS_154950909"
    assert form["TemplateParam"] == '{"link":"http://localhost:8000' + made["short_path"] + '"}'
    assert form["OutId"] == f"inv-{made['id']}-0"
    assert datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= datetime.now(UTC)

    receipt = client.post(
        "/api/v1/sms/receipts",
        json={"message_id": "900619746936498440^0", "status": "delivered"},
        headers=org.auth("admin"),
    )
    assert receipt.json() == {"invitation_id": made["id"], "status": "delivered"}

    assert client.post(
        "/api/v1/sms/replies", json={"phone": PHONE, "text": "hello"}, headers=org.auth("admin")
    ).json() == {"stopped": False}
    stop = client.post(
        "/api/v1/sms/replies", json={"phone": PHONE, "text": "退订"}, headers=org.auth("admin")
    )
    assert stop.json() == {"stopped": True, "contact_id": contact}
    assert people.ledger == [(contact, "sms", False, "sms_stop")]
    again = invite(client, org, contact, make_survey(client, org), channel="sms")
    assert again["skip_reason"] == "no_channel(sms:no_consent)"


def test_aliyun_wrong_secret_fails_for_good(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    provider.routes["/aliyun/"] = aliyun_route("RIGHT")
    configure(
        client,
        org,
        "aliyun",
        {
            "endpoint": provider.base + "/aliyun/",
            "access_key_id": "AK",
            "access_key_secret": "WRONG",
            "sign_name": "s",
            "template_code": "t",
        },
    )
    invite(client, org, people.add(phone=PHONE), make_survey(client, org), channel="sms")
    status, _, _, attempts = sent(database_url)[0]
    assert (status, attempts) == ("failed", 1)


# --- Tencent Cloud: TC3-HMAC-SHA256 as documented -------------------------------


def tc3_expected(seen: Seen, secret_id: str, secret_key: str) -> str:
    timestamp = int(seen.headers["x-tc-timestamp"])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    host = seen.headers["host"]
    canonical_request = (
        "POST\n/\n\n"
        f"content-type:{seen.headers['content-type']}\nhost:{host}\n\n"
        "content-type;host\n" + hashlib.sha256(seen.body).hexdigest()
    )
    scope = f"{date}/sms/tc3_request"
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    )

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    secret_signing = sign(sign(sign(("TC3" + secret_key).encode("utf-8"), date), "sms"), "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    credential = f"Credential={secret_id}/{scope}"
    return f"TC3-HMAC-SHA256 {credential}, SignedHeaders=content-type;host, Signature={signature}"


def test_tencent_signature_and_send(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    def route(seen: Seen) -> tuple[int, dict[str, Any]]:
        if seen.headers.get("authorization") != tc3_expected(seen, "AKID", "KEY"):
            return 200, {
                "Response": {
                    "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"},
                    "RequestId": "x",
                }
            }
        assert seen.headers["x-tc-action"] == "SendSms" and seen.headers["x-tc-version"] == "2021-01-11"
        body = seen.json()
        assert body["PhoneNumberSet"] == [PHONE] and body["SmsSdkAppId"] == "1400006666"
        return 200, {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": "5000:1045710669157053657849499619",
                        "PhoneNumber": PHONE,
                        "Code": "Ok",
                        "Message": "send success",
                    }
                ],
                "RequestId": "a0aabda6",
            }
        }

    provider.routes["/"] = route
    configure(
        client,
        org,
        "tencent",
        {
            "endpoint": provider.base + "/",
            "secret_id": "AKID",
            "secret_key": "KEY",
            "sdk_app_id": "1400006666",
            "sign_name": "腾讯云",
            "template_id": "449739",
        },
    )
    made = invite(client, org, people.add(phone=PHONE), make_survey(client, org), channel="sms")
    assert sent(database_url) == [("sent", "sms", "5000:1045710669157053657849499619", 1)]
    body = provider.seen[0].json()
    assert body["SessionContext"] == f"inv-{made['id']}-0"
    assert body["TemplateParamSet"] == ["http://localhost:8000" + made["short_path"]]


def test_tencent_rate_limit_is_retried(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    provider.routes["/"] = lambda seen: (
        200,
        {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}, "RequestId": "x"}},
    )
    configure(
        client,
        org,
        "tencent",
        {
            "endpoint": provider.base + "/",
            "secret_id": "A",
            "secret_key": "K",
            "sdk_app_id": "1",
            "sign_name": "s",
            "template_id": "t",
        },
    )
    invite(client, org, people.add(phone=PHONE), make_survey(client, org), channel="sms")
    assert sent(database_url)[0][0] == "retrying"


# --- Twilio and the generic gateway ----------------------------------------------


def test_twilio_basic_auth_and_form(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    path = "/2010-04-01/Accounts/AC123/Messages.json"

    def route(seen: Seen) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(b"AC123:TOKEN").decode()
        if seen.headers.get("authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        form = seen.form()
        assert form["To"] == "+14155550100" and form["From"] == "+14155550199"
        return 201, {"sid": "SM" + "a" * 32, "status": "queued"}

    provider.routes[path] = route
    configure(
        client,
        org,
        "twilio",
        {"endpoint": provider.base, "account_sid": "AC123", "auth_token": "TOKEN", "from": "+14155550199"},
    )
    invite(
        client, org, people.add(phone="+14155550100", language="en"), make_survey(client, org), channel="sms"
    )
    assert sent(database_url) == [("sent", "sms", "SM" + "a" * 32, 1)]
    assert "Store survey: tell us how we did http://localhost:8000/i/" in provider.seen[0].form()["Body"]

    configure(
        client,
        org,
        "twilio",
        {"endpoint": provider.base, "account_sid": "AC123", "auth_token": "BAD", "from": "+14155550199"},
    )
    invite(client, org, people.add(phone="+14155550101"), make_survey(client, org), channel="sms")
    assert sent(database_url)[1][0] == "failed"


def test_generic_gateway_500_then_ok_with_one_idempotency_key(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    answers = [(500, {"error": "down"}), (200, {"id": "gw-1"})]
    provider.routes["/sms"] = lambda seen: answers.pop(0)
    configure(client, org, "http", {"url": provider.base + "/sms", "token": "T"})
    start = datetime.now(UTC)
    made = invite(client, org, people.add(phone=PHONE), make_survey(client, org), channel="sms")
    assert sent(database_url)[0][0] == "retrying"
    drive(database_url, start + timedelta(minutes=5))
    assert sent(database_url) == [("sent", "sms", "gw-1", 2)]
    keys = {seen.headers["idempotency-key"] for seen in provider.seen}
    assert keys == {f"inv-{made['id']}-0"}
    assert provider.seen[0].headers["authorization"] == "Bearer T"
    assert provider.seen[0].json()["encoding"] == "ucs2"


def test_a_gateway_that_hangs_is_retried_later(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    provider.delay = 1.5
    provider.routes["/sms"] = lambda seen: (200, {"id": "late"})
    configure(client, org, "http", {"url": provider.base + "/sms", "timeout": 0.5})
    invite(client, org, people.add(phone=PHONE), make_survey(client, org), channel="sms")
    assert sent(database_url)[0][0] == "retrying"


def test_sms_settings_are_checked(client: TestClient, org: Org, database_url: str) -> None:
    bad = client.put(
        "/api/v1/channels/sms",
        json={"provider": "aliyun", "config": {"access_key_id": "x"}},
        headers=org.auth("admin"),
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {
        "config.access_key_secret",
        "config.sign_name",
        "config.template_code",
    }
    wrong = client.put(
        "/api/v1/channels/sms", json={"provider": "smtp", "config": {}}, headers=org.auth("admin")
    )
    assert wrong.status_code == 422
    assert (
        client.put(
            "/api/v1/channels/fax", json={"provider": "http", "config": {}}, headers=org.auth("admin")
        ).status_code
        == 404
    )
    assert (
        client.put(
            "/api/v1/channels/sms",
            json={"provider": "http", "config": {"url": "x"}},
            headers=org.auth("store"),
        ).status_code
        == 403
    )
    assert rows(database_url, "SELECT count(*) FROM channel_configs") == [(0,)]


def test_pace_spaces_sends_per_key() -> None:
    import asyncio

    from cxloop.distribution.providers import Pace

    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))

    pace = Pace(clock=lambda: now[0], sleep=sleep)

    async def run() -> list[float]:
        delays = [await pace.wait("t:sms", 10) for _ in range(4)]
        delays.append(await pace.wait("t:email", 10))  # another key has its own pace
        delays.append(await pace.wait("t:sms", None))  # no limit configured
        return delays

    assert [round(d, 3) for d in asyncio.run(run())] == [0.0, 0.1, 0.2, 0.3, 0.0, 0.0]
    assert slept == [0.1, 0.2, 0.3]
    now[0] = 101.0  # later, the slots are free again
    assert asyncio.run(pace.wait("t:sms", 10)) == 0.0
