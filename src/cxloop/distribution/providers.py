"""From a tenant's channel settings to the adapter that sends, and the
providers each channel accepts (with the settings each one needs).

The secrets among the settings (``SECRET_KEYS``) are stored sealed
(``ChannelConfig.secrets_enc``); the plain ``config`` column keeps the rest and
shows each set secret as the mask, exactly as the API does. ``store_settings``
splits them, ``settings_of`` puts them back together for the adapter."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.channels.base import Adapter, Permanent
from cxloop.distribution.channels.email import EmailAdapter, SmtpConfig
from cxloop.distribution.models import ChannelConfig, channel_secrets_place
from cxloop.kit.sealed import seal_json, unseal_json
from cxloop.kit.settings import get_settings

# channel -> provider -> (adapter module, required settings)
PROVIDERS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "email": {"smtp": ("cxloop.distribution.channels.email", ("host",))},
    "sms": {
        "aliyun": (
            "cxloop.distribution.channels.sms_aliyun",
            ("access_key_id", "access_key_secret", "sign_name", "template_code"),
        ),
        "tencent": (
            "cxloop.distribution.channels.sms_tencent",
            ("secret_id", "secret_key", "sdk_app_id", "sign_name", "template_id"),
        ),
        "twilio": ("cxloop.distribution.channels.sms_twilio", ("account_sid", "auth_token", "from")),
        "http": ("cxloop.distribution.channels.sms_http", ("url",)),
    },
    "wechat": {"wechat_mp": ("cxloop.distribution.channels.wechat", ("app_id", "app_secret", "template_id"))},
    "wecom": {"wecom": ("cxloop.distribution.channels.wechat", ("corp_id", "corp_secret", "agent_id"))},
}
SECRET_KEYS = frozenset(
    {"password", "access_key_secret", "secret_key", "auth_token", "app_secret", "corp_secret", "token"}
)


MASK = "********"


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: secrets never leave the server."""
    return {key: (MASK if key in SECRET_KEYS and value else value) for key, value in config.items()}


def store_settings(row: ChannelConfig, config: dict[str, Any]) -> None:
    """Keep ``config`` on the row: the secrets sealed, the rest (and a mask per secret) plain.

    The row's id and tenant must be set: they bind the sealed value to it.
    """
    secrets = {key: value for key, value in config.items() if key in SECRET_KEYS and value}
    row.config = masked(config)
    row.secrets_enc = seal_json(secrets, channel_secrets_place(row)) if secrets else None


def settings_of(row: ChannelConfig) -> dict[str, Any]:
    """The clear settings, secrets included: for building the sending adapter only."""
    config = dict(row.config)
    if row.secrets_enc is not None:
        secrets = unseal_json(row.secrets_enc, channel_secrets_place(row))
        if isinstance(secrets, dict):
            config.update(secrets)
    return config


def missing_settings(channel: str, provider: str, config: dict[str, Any]) -> list[str]:
    _module, required = PROVIDERS[channel][provider]
    return [name for name in required if not config.get(name)]


async def channel_config(session: AsyncSession, tenant_id: str, channel: str) -> ChannelConfig | None:
    found = await session.execute(
        select(ChannelConfig).where(ChannelConfig.tenant_id == tenant_id, ChannelConfig.channel == channel)
    )
    return found.scalar_one_or_none()


def build_adapter(channel: str, provider: str, config: dict[str, Any]) -> Adapter:
    timeout = get_settings().provider_timeout_seconds
    if channel == "email":
        return EmailAdapter(SmtpConfig.from_config(config, timeout))
    known = PROVIDERS.get(channel, {}).get(provider)
    if known is None:
        raise Permanent(f"no {provider!r} provider for {channel}")
    module = importlib.import_module(known[0])
    adapter: Adapter = module.make_adapter(provider, config, timeout)
    return adapter


def settings_smtp() -> dict[str, Any] | None:
    settings = get_settings()
    if not settings.smtp_host:
        return None
    return {
        "host": settings.smtp_host,
        "port": settings.smtp_port,
        "security": settings.smtp_security,
        "username": settings.smtp_username,
        "password": settings.smtp_password,
        "from": settings.smtp_from,
    }


async def adapter_for(session: AsyncSession, tenant_id: str, channel: str) -> Adapter:
    row = await channel_config(session, tenant_id, channel)
    if row is not None and row.enabled:
        return build_adapter(channel, row.provider, settings_of(row))
    if channel == "email":
        fallback = settings_smtp()
        if fallback is not None:
            return build_adapter("email", "smtp", fallback)
    raise Permanent(f"the {channel} channel is not configured")


class Pace:
    """At most ``rate`` sends a second per key (a tenant's channel) in this process.

    Providers cap request rates (Aliyun and Tencent per account, SMTP relays
    per connection); going over earns throttling errors and retries. Each
    caller is given the next free slot and sleeps until it; ``clock`` and
    ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock, self.sleep = clock, sleep
        self.next_at: dict[str, float] = {}

    async def wait(self, key: str, rate: float | None) -> float:
        if not rate or rate <= 0:
            return 0.0
        now = self.clock()
        slot = max(self.next_at.get(key, now), now)
        self.next_at[key] = slot + 1.0 / rate
        delay = slot - now
        if delay > 0:
            await self.sleep(delay)
        return delay


pace = Pace()


async def rate_for(session: AsyncSession, tenant_id: str, channel: str) -> float | None:
    row = await channel_config(session, tenant_id, channel)
    if row is None:
        return None
    value = dict(row.config).get("rate_per_second")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
