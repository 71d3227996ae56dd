"""What every adapter takes and answers, and the two kinds of failure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

# Providers echo the address they refused ("550 <wang@example.com> unknown"):
# such text is logged and stored in clear, so the addresses come out first.
_EMAIL = re.compile(r"[^\s<>\"'@]+@[^\s<>\"'@]+")
_PHONE = re.compile(r"\+?\d[\d\s-]{6,}\d")


def without_contact_data(text: str) -> str:
    """A provider's error text with email addresses and phone numbers masked."""
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


class Transient(Exception):
    """The provider timed out, was unreachable or answered 5xx/429: try again later."""


class Permanent(Exception):
    """The provider refused the message for good (bad address, bad credentials...)."""


@dataclass(frozen=True)
class Outgoing:
    invitation_id: str
    tenant_id: str
    channel: str
    to: str
    language: str
    subject: str
    text: str
    html: str
    link: str
    # Stable across retries of one send: providers that dedupe never double it.
    idempotency_key: str
    unsubscribe_url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None
    segments: int | None = None


class Adapter(Protocol):
    provider: str

    async def send(self, message: Outgoing) -> Sent: ...


def classify_status(status: int, body: str) -> None:
    """Raise the failure an HTTP status means (2xx passes)."""
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500 or status == 408:
        raise Transient(f"provider answered {status}: {body[:200]}")
    raise Permanent(f"provider answered {status}: {body[:200]}")
