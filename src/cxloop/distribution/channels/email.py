"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS, AUTH, multipart
text + HTML, one-click unsubscribe headers, our own Message-ID.

Connections are kept open and reused per event loop and server, so a batch
of invitations costs one TCP and TLS handshake, not one per message; a
connection the server closed is reopened once.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from email.message import EmailMessage
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

    async def send(self, message: EmailMessage) -> None:
        async with self.slots:
            client = self.idle.pop() if self.idle else None
            for turn in range(2):
                if client is None or not client.is_connected:
                    client = await self._open()
                try:
                    await client.send_message(message)
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


def build_message(config: SmtpConfig, message: Outgoing) -> EmailMessage:
    email = EmailMessage()
    email["From"] = config.sender
    name = message.params.get("name")
    email["To"] = formataddr((str(name), message.to)) if name else message.to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utc_now())
    email["Message-ID"] = message_id(message.idempotency_key, config.sender)
    if message.unsubscribe_url:
        # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL.
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email["X-Cxloop-Invitation"] = message.invitation_id
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


class EmailAdapter:
    provider = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: Outgoing) -> Sent:
        email = build_message(self.config, message)
        try:
            await _pool(self.config).send(email)
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
        return Sent(provider_message_id=str(email["Message-ID"]))
