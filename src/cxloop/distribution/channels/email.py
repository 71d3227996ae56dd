"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS, AUTH, multipart
text + HTML, one-click unsubscribe headers, our own Message-ID.

Connections are kept open and reused per event loop and server, so a batch
of invitations costs one TCP and TLS handshake, not one per message; a
connection the server closed is reopened once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import weakref
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import aiosmtplib

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient
from cxloop.kit.clock import utc_now


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = None
    sender: str = "cxloop <no-reply@localhost>"
    verify_tls: bool = True
    timeout: float = 10.0
    # Parallel connections per server and loop (a batch spreads over them).
    connections: int = 4

    @classmethod
    def from_config(cls, config: dict[str, Any], timeout: float) -> SmtpConfig:
        try:
            return cls(
                host=str(config["host"]),
                port=int(config.get("port", 587)),
                security=str(config.get("security", "starttls")),
                username=config.get("username"),
                password=config.get("password"),
                sender=str(config.get("from") or "cxloop <no-reply@localhost>"),
                verify_tls=bool(config.get("verify_tls", True)),
                timeout=float(config.get("timeout", timeout)),
                connections=max(1, min(int(config.get("connections", 4)), 16)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise Permanent(f"email channel settings are incomplete: {error}") from None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.host, self.port, self.security, self.username, self.verify_tls)


class _Pool:
    """A few open connections to one server, handed out one at a time."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.idle: list[aiosmtplib.SMTP] = []
        self.slots = asyncio.Semaphore(config.connections)

    async def _open(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.security == "tls",
            start_tls=c.security == "starttls",
            validate_certs=c.verify_tls,
            timeout=c.timeout,
        )
        await client.connect()
        if c.username:
            await client.login(c.username, c.password or "")
        return client

    async def send(self, sender: str, recipient: str, raw: bytes) -> None:
        async with self.slots:
            client = self.idle.pop() if self.idle else None
            for turn in range(2):
                if client is None or not client.is_connected:
                    client = await self._open()
                try:
                    await client.sendmail(sender, [recipient], raw)
                except aiosmtplib.SMTPServerDisconnected:
                    client = None
                    if turn == 1:
                        raise
                    continue
                self.idle.append(client)
                return

    async def close(self) -> None:
        while self.idle:
            client = self.idle.pop()
            try:
                await client.quit()
            except Exception:  # closing is best effort
                client.close()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _Pool]] = (
    weakref.WeakKeyDictionary()
)


def _pool(config: SmtpConfig) -> _Pool:
    per_loop = _pools.setdefault(asyncio.get_running_loop(), {})
    pool = per_loop.get(config.key)
    if pool is None or pool.config != config:
        pool = per_loop[config.key] = _Pool(config)
    return pool


async def close_pools() -> None:
    for pool in list(_pools.get(asyncio.get_running_loop(), {}).values()):
        await pool.close()
    _pools.pop(asyncio.get_running_loop(), None)


def message_id(idempotency_key: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "cxloop.local"
    return f"<{idempotency_key}@{domain}>"


def _header(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded words (folded)."""
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode()


def _address(name: str | None, address: str) -> str:
    # No header injection: an address never holds line breaks, a name loses them.
    if any(char in address for char in '\r\n<>,"') or not address.isprintable():
        raise Permanent("not an email address")
    if not name:
        return address
    return formataddr((" ".join(name.split()), address), charset="utf-8")


def _part(content_type: str, body: str) -> bytes:
    encoded = base64.encodebytes(body.encode()).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode()
        + encoded
    )


def build_message(config: SmtpConfig, message: Outgoing) -> tuple[bytes, str, str]:
    """The message as bytes (multipart/alternative: text, then HTML), the
    envelope sender and our Message-ID.

    Written out directly rather than through ``email.message``: that
    package costs several milliseconds a message, most of a batch's CPU.
    """
    sender_name, sender_address = parseaddr(config.sender)
    mid = message_id(message.idempotency_key, config.sender)
    boundary = "==cx" + hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:24]
    name = message.params.get("name")
    headers = [
        f"From: {_address(sender_name or None, sender_address)}",
        f"To: {_address(str(name) if name else None, message.to)}",
        f"Subject: {_header(message.subject)}",
        f"Date: {format_datetime(utc_now())}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        f"X-Cxloop-Invitation: {message.invitation_id}",
    ]
    if message.unsubscribe_url:
        # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL.
        headers.append(f"List-Unsubscribe: <{message.unsubscribe_url}>")
        headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    marker = f"--{boundary}\r\n".encode()
    body = (
        marker
        + _part("text/plain", message.text)
        + b"\r\n"
        + marker
        + _part("text/html", message.html)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return head + body, sender_address, mid


class EmailAdapter:
    provider = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: Outgoing) -> Sent:
        raw, sender, mid = build_message(self.config, message)
        try:
            await _pool(self.config).send(sender, message.to, raw)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            if codes and all(code >= 500 for code in codes):
                raise Permanent(f"recipient refused: {codes}") from None
            raise Transient(f"recipient deferred: {codes}") from None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise Permanent(f"SMTP authentication failed: {error.code}") from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise Permanent(f"SMTP {error.code}: {error.message[:200]}") from None
            raise Transient(f"SMTP {error.code}: {error.message[:200]}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise Transient(f"SMTP server unreachable: {type(error).__name__}") from None
        return Sent(provider_message_id=mid)
