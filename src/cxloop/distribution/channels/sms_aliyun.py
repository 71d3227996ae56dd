"""Aliyun SMS (dysmsapi, ``SendSms``, API version 2017-05-25), RPC style.

Signature v1 as documented: every parameter (without ``Signature``) sorted
by name, each name and value percent-encoded per RFC 3986 (space %20, ``*``
%2A, ``~`` kept), joined ``k=v&...``; the string to sign is
``POST&%2F&`` + the encoded canonical query; the signature is
base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)). ``OutId`` carries
our idempotency key, and comes back in delivery receipts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient
from cxloop.distribution.channels.sms import json_body, national_cn, request, segments

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Codes worth trying again: throttling and the service's own faults.
TRANSIENT_CODES = frozenset(
    {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "ServiceUnavailable", "InternalError"}
)


def encode(value: str) -> str:
    return quote(value, safe="~")


def string_to_sign(params: dict[str, str], method: str = "POST") -> str:
    canonical = "&".join(f"{encode(key)}={encode(params[key])}" for key in sorted(params))
    return f"{method}&{encode('/')}&{encode(canonical)}"


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    provider = "aliyun"

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, float(config.get("timeout") or timeout)

    def params(self, message: Outgoing, now: datetime) -> dict[str, str]:
        c = self.config
        template_param = {c.get("link_param", "link"): message.link, **dict(c.get("extra_params") or {})}
        return {
            "AccessKeyId": str(c["access_key_id"]),
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.idempotency_key,
            "PhoneNumbers": national_cn(message.to),
            "RegionId": str(c.get("region", "cn-hangzhou")),
            "SignName": str(c["sign_name"]),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0",
            "TemplateCode": str(c["template_code"]),
            "TemplateParam": json.dumps(template_param, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }

    async def send(self, message: Outgoing) -> Sent:
        params = self.params(message, datetime.now(UTC))
        params["Signature"] = sign(params, str(self.config["access_key_secret"]))
        response = await request(
            "POST", str(self.config.get("endpoint") or ENDPOINT), self.timeout, data=params
        )
        body = json_body(response)
        code = str(body.get("Code", ""))
        if code == "OK":
            return Sent(provider_message_id=str(body.get("BizId") or ""), segments=segments(message.text)[1])
        if code in TRANSIENT_CODES or response.status_code >= 500:
            raise Transient(f"Aliyun SMS {code}: {body.get('Message', '')}"[:300])
        raise Permanent(f"Aliyun SMS {code}: {body.get('Message', '')}"[:300])


def make_adapter(provider: str, config: dict[str, Any], timeout: float) -> AliyunSms:
    return AliyunSms(config, timeout)
