"""Twilio Programmable Messaging: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``,
form-encoded ``To``, ``From`` (or ``MessagingServiceSid``), ``Body``, HTTP basic
auth with the account SID and auth token. 201 answers the message ``sid``."""

from __future__ import annotations

from typing import Any

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient
from cxloop.distribution.channels.sms import check_e164, json_body, request, segments

ENDPOINT = "https://api.twilio.com"


class TwilioSms:
    provider = "twilio"

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, float(config.get("timeout") or timeout)

    async def send(self, message: Outgoing) -> Sent:
        c = self.config
        sid = str(c["account_sid"])
        url = f"{str(c.get('endpoint') or ENDPOINT).rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {"To": check_e164(message.to), "Body": message.text}
        sender = str(c["from"])
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if c.get("status_callback"):
            form["StatusCallback"] = str(c["status_callback"])
        response = await request("POST", url, self.timeout, data=form, auth=(sid, str(c["auth_token"])))
        body = json_body(response)
        if response.status_code in (200, 201) and body.get("sid"):
            return Sent(provider_message_id=str(body["sid"]), segments=segments(message.text)[1])
        text = f"Twilio {response.status_code} {body.get('code', '')}: {body.get('message', '')}"[:300]
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(text)
        raise Permanent(text)


def make_adapter(provider: str, config: dict[str, Any], timeout: float) -> TwilioSms:
    return TwilioSms(config, timeout)
