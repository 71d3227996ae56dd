"""From a tenant's channel settings to the adapter that sends, and the
providers each channel accepts (with the settings each one needs)."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.channels.base import Adapter, Permanent
from cxloop.distribution.channels.email import EmailAdapter, SmtpConfig
from cxloop.distribution.models import ChannelConfig
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


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: secrets never leave the server."""
    return {key: ("********" if key in SECRET_KEYS and value else value) for key, value in config.items()}


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
        return build_adapter(channel, row.provider, dict(row.config))
    if channel == "email":
        fallback = settings_smtp()
        if fallback is not None:
            return build_adapter("email", "smtp", fallback)
    raise Permanent(f"the {channel} channel is not configured")
