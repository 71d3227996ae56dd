"""Tencent Cloud SMS (``SendSms``, API version 2021-01-11), signed TC3-HMAC-SHA256.

As documented: the canonical request is ``POST\\n/\\n\\n`` + the signed
headers ``content-type`` and ``host`` + their names + hex SHA-256 of the
body; the string to sign is ``TC3-HMAC-SHA256\\n{timestamp}\\n{date}/sms/
tc3_request\\n`` + hex SHA-256 of the canonical request; the key is derived
HMAC-SHA256("TC3" + SecretKey, date) -> "sms" -> "tc3_request".
``SessionContext`` carries our idempotency key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient
from cxloop.distribution.channels.sms import check_e164, json_body, request, segments

ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE, VERSION, ACTION = "sms", "2021-01-11", "SendSms"
CONTENT_TYPE = "application/json; charset=utf-8"
TRANSIENT_PREFIXES = ("InternalError", "RequestLimitExceeded", "ResourceUnavailable")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def authorization(secret_id: str, secret_key: str, host: str, body: str, timestamp: int) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body.encode()).hexdigest(),
        ]
    )
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    credential = f"Credential={secret_id}/{scope}"
    return f"TC3-HMAC-SHA256 {credential}, SignedHeaders=content-type;host, Signature={signature}"


class TencentSms:
    provider = "tencent"

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, float(config.get("timeout") or timeout)

    async def send(self, message: Outgoing) -> Sent:
        c = self.config
        endpoint = str(c.get("endpoint") or ENDPOINT)
        host = urlsplit(endpoint).netloc
        body = json.dumps(
            {
                "PhoneNumberSet": [check_e164(message.to)],
                "SmsSdkAppId": str(c["sdk_app_id"]),
                "SignName": str(c["sign_name"]),
                "TemplateId": str(c["template_id"]),
                "TemplateParamSet": [message.link],
                "SessionContext": message.idempotency_key,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "Authorization": authorization(str(c["secret_id"]), str(c["secret_key"]), host, body, timestamp),
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": ACTION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": str(c.get("region", "ap-guangzhou")),
        }
        response = await request("POST", endpoint, self.timeout, content=body.encode(), headers=headers)
        answer = json_body(response).get("Response")
        if not isinstance(answer, dict):
            raise Transient(f"Tencent SMS answered {response.status_code} without a Response")
        error = answer.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code", ""))
            text = f"Tencent SMS {code}: {error.get('Message', '')}"[:300]
            raise Transient(text) if code.startswith(TRANSIENT_PREFIXES) else Permanent(text)
        statuses = answer.get("SendStatusSet") or [{}]
        status = statuses[0] if isinstance(statuses[0], dict) else {}
        if status.get("Code") != "Ok":
            code = str(status.get("Code", ""))
            text = f"Tencent SMS {code}: {status.get('Message', '')}"[:300]
            raise (
                Transient(text)
                if code.startswith(("LimitExceeded.Delivery", "InternalError"))
                else Permanent(text)
            )
        return Sent(provider_message_id=str(status.get("SerialNo") or ""), segments=segments(message.text)[1])


def make_adapter(provider: str, config: dict[str, Any], timeout: float) -> TencentSms:
    return TencentSms(config, timeout)
