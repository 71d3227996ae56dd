"""What every SMS adapter shares: segment counting (GSM-7 / UCS-2), phone
number forms, and one HTTP call that turns transport faults into Transient."""

from __future__ import annotations

from typing import Any

import httpx

from cxloop.distribution.channels.base import Permanent, Transient
from cxloop.kit.numbers import ascii_digits

# GSM 03.38 basic character set, and the extension table (two septets each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int]:
    """The encoding an SMS needs and how many parts it is billed as.

    GSM-7: 160 septets in one part, 153 per part when concatenated (the
    user data header takes 7). UCS-2 (any other character, e.g. Chinese):
    70 UTF-16 units in one part, 67 per part. An extension character costs
    two septets.
    """
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        septets = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        return "gsm7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else -(-units // 67)


def national_cn(phone: str) -> str:
    """Aliyun's form: mainland numbers without +86, others with the country code and no +."""
    digits = phone.lstrip("+")
    if phone.startswith("+86"):
        return digits[2:]
    return digits


def check_e164(phone: str) -> str:
    if not (phone.startswith("+") and ascii_digits(phone[1:]) and 8 <= len(phone) <= 16):
        raise Permanent("not an E.164 phone number")
    return phone


async def request(method: str, url: str, limit: float, **kwargs: Any) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=limit, trust_env=False) as client:
            return await client.request(method, url, **kwargs)
    except (httpx.TimeoutException, httpx.TransportError) as error:
        raise Transient(f"SMS provider unreachable: {type(error).__name__}") from None


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if response.status_code >= 500 or response.status_code == 429:
            raise Transient(f"provider answered {response.status_code}")
        raise Permanent(f"provider answered {response.status_code} without JSON")
    return body
