"""Sending one message over one medium: email (SMTP), SMS (a generic HTTP gateway)
and apprise (WeCom group robot and app, DingTalk, Feishu/Lark, Slack, Teams, JSON...).

Each sender raises on failure; the notification job records the error and tries again
later, so a channel that is down never blocks an alert or a case.

A channel's settings are stored sealed (``NotificationChannel.config_enc``): robot keys
sit in apprise URLs, gateways take tokens, SMTP servers passwords. ``config_of`` opens
them for a send; nothing else does, and the API never returns them.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import apprise
import httpx

from cxloop.alerts.messages import Message
from cxloop.alerts.models import NotificationChannel, channel_config_place
from cxloop.kit.crypto import FieldKeyError
from cxloop.kit.sealed import seal_json, unseal_json
from cxloop.kit.settings import get_settings

TIMEOUT_SECONDS = 10.0


class SendFailed(Exception):
    pass


def seal_config(channel: NotificationChannel, config: dict[str, Any]) -> None:
    """Store ``config`` sealed on the row (its id and tenant must be set: they bind the value)."""
    channel.config_enc = seal_json(config, channel_config_place(channel))


def config_of(channel: NotificationChannel) -> dict[str, Any]:
    """The clear settings: for sending only (a failure is the notification's, retried later)."""
    try:
        config = unseal_json(channel.config_enc, channel_config_place(channel))
    except FieldKeyError as exc:
        raise SendFailed(
            "the channel's settings do not decrypt: their key is missing from CXLOOP_FIELD_KEYS"
        ) from exc
    return dict(config) if isinstance(config, dict) else {}


def smtp_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A channel's own SMTP server, or the installation's (CXLOOP_SMTP_*)."""
    if config and config.get("host"):
        return config
    settings = get_settings()
    host = getattr(settings, "smtp_host", None)
    if not host:
        raise SendFailed("no SMTP server is configured (CXLOOP_SMTP_HOST or an email channel with a host)")
    security = getattr(settings, "smtp_security", "none")
    return {
        "host": host,
        "port": getattr(settings, "smtp_port", 25),
        "from": getattr(settings, "smtp_from", "cxloop@localhost"),
        "username": getattr(settings, "smtp_username", None),
        "password": getattr(settings, "smtp_password", None),
        "starttls": security == "starttls",
        "tls": security == "tls",
    }


async def send_email(config: dict[str, Any] | None, to: list[str], message: Message) -> None:
    smtp = smtp_config(config)
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = str(smtp.get("from") or "cxloop@localhost")
    mail["To"] = ", ".join(to)
    mail.set_content(message.plain)
    mail.add_alternative(f"<!doctype html><html><body>{message.html}</body></html>", subtype="html")
    try:
        await aiosmtplib.send(
            mail,
            hostname=str(smtp["host"]),
            port=int(smtp.get("port") or 25),
            username=smtp.get("username") or None,
            password=smtp.get("password") or None,
            start_tls=bool(smtp.get("starttls")),
            use_tls=bool(smtp.get("tls")),
            timeout=TIMEOUT_SECONDS,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc


async def send_sms(config: dict[str, Any], message: Message) -> None:
    """POST ``{"to": [numbers], "text": ...}`` to the gateway (Aliyun/Tencent adapters or
    any in-house SMS service put behind this shape)."""
    headers = {"Content-Type": "application/json"}
    if config.get("token"):
        headers["Authorization"] = f"Bearer {config['token']}"
    text = message.plain[: int(config.get("max_length") or 500)]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, trust_env=False) as client:
            answer = await client.post(
                str(config["url"]), json={"to": config.get("to", []), "text": text}, headers=headers
            )
    except httpx.HTTPError as exc:
        raise SendFailed(f"SMS gateway: {type(exc).__name__}") from exc
    if answer.status_code >= 300:
        raise SendFailed(f"SMS gateway answered {answer.status_code}")


def _apprise_notify(url: str, message: Message) -> bool:
    sender = apprise.Apprise()
    if not sender.add(url):
        raise SendFailed("apprise does not understand this URL")
    return bool(
        sender.notify(body=message.markdown, title=message.subject, body_format=apprise.NotifyFormat.MARKDOWN)
    )


async def send_apprise(config: dict[str, Any], message: Message) -> None:
    # apprise is synchronous: keep it off the event loop.
    if not await asyncio.to_thread(_apprise_notify, str(config["url"]), message):
        raise SendFailed("apprise could not deliver the message")


def check_channel_config(kind: str, config: dict[str, Any]) -> list[tuple[str, str]]:
    """Errors as (path, message) for a channel's config."""
    errors: list[tuple[str, str]] = []
    if kind == "apprise":
        url = config.get("url")
        if not isinstance(url, str) or not url:
            errors.append(("config.url", "An apprise URL is required, e.g. wecombot://KEY or slack://..."))
        elif apprise.Apprise().add(url) is False:
            errors.append(("config.url", "apprise does not understand this URL."))
    elif kind == "sms":
        url = config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            errors.append(("config.url", "The SMS gateway needs an http(s) URL."))
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(x, str) for x in to):
            errors.append(("config.to", "Give the phone numbers to send to."))
    elif kind == "email":
        to = config.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(x, str) and "@" in x for x in to):
            errors.append(("config.to", "Give the email addresses to send to."))
    return errors
