"""A generic HTTP SMS gateway: ``POST {url}`` with JSON ``{"to", "text", "reference"}``,
``Authorization: Bearer {token}`` when set and ``Idempotency-Key`` (the same on
every retry of one send); any 2xx with ``{"id": ...}`` is sent."""

from __future__ import annotations

from typing import Any

from cxloop.distribution.channels.base import Outgoing, Sent, classify_status
from cxloop.distribution.channels.sms import check_e164, json_body, request, segments


class HttpSms:
    provider = "http"

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, float(config.get("timeout") or timeout)

    async def send(self, message: Outgoing) -> Sent:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.config.get("token"):
            headers["Authorization"] = f"Bearer {self.config['token']}"
        encoding, parts = segments(message.text)
        payload = {
            "to": check_e164(message.to),
            "text": message.text,
            "reference": message.idempotency_key,
            "encoding": encoding,
            "segments": parts,
        }
        response = await request("POST", str(self.config["url"]), self.timeout, json=payload, headers=headers)
        classify_status(response.status_code, response.text)
        body = json_body(response)
        return Sent(provider_message_id=str(body.get("id") or message.idempotency_key), segments=parts)


def make_adapter(provider: str, config: dict[str, Any], timeout: float) -> HttpSms:
    return HttpSms(config, timeout)
