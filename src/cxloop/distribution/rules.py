"""When and through what a contact may be asked: contact-frequency rules,
quiet hours in the contact's timezone, and the channel choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.directory import Person
from cxloop.distribution.models import COUNTED, ChannelConfig, FrequencyRule, Invitation, SendingPolicy
from cxloop.kit.settings import get_settings

CHANNELS = ("wechat", "wecom", "sms", "email")
DEFAULT_FALLBACK = ("wechat", "sms", "email")
# The contact attribute that names a preferred channel, tried first.
PREFERENCE_ATTRIBUTE = "preferred_channel"


@dataclass(frozen=True)
class Policy:
    quiet_start: time | None
    quiet_end: time | None
    fallback_order: tuple[str, ...]


def parse_hhmm(value: str | None) -> time | None:
    if not value:
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


async def tenant_policy(session: AsyncSession, tenant_id: str) -> Policy:
    row = await session.get(SendingPolicy, tenant_id)
    if row is None:
        return Policy(None, None, DEFAULT_FALLBACK)
    order = tuple(row.fallback_order or DEFAULT_FALLBACK)
    return Policy(parse_hhmm(row.quiet_start), parse_hhmm(row.quiet_end), order)


def zone(name: str | None) -> ZoneInfo:
    for candidate in (name, get_settings().default_timezone, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def quiet_until(now: datetime, timezone: str | None, start: time | None, end: time | None) -> datetime | None:
    """When quiet hours end (UTC) if ``now`` falls inside them, else None.

    The window may wrap midnight (21:00-08:00). The answer is computed on the
    local wall clock, so a change to or from summer time moves it with the
    contact's clock.
    """
    if start is None or end is None or start == end:
        return None
    tz = zone(timezone)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    ends = datetime.combine(end_day, end, tzinfo=tz)
    return ends.astimezone(now.tzinfo)


def _rule_applies(rule: FrequencyRule, survey_id: str, channel: str | None, person: Person) -> bool:
    if rule.survey_id is not None and rule.survey_id != survey_id:
        return False
    if rule.channel is not None and rule.channel != channel:
        return False
    if rule.attribute is not None:
        value: Any = person.attributes.get(rule.attribute)
        if rule.attribute == "tags":
            return rule.attribute_value in person.tags
        return bool(value == rule.attribute_value)
    return True


async def frequency_rules(session: AsyncSession, tenant_id: str) -> list[FrequencyRule]:
    found = await session.execute(
        select(FrequencyRule).where(FrequencyRule.tenant_id == tenant_id).order_by(FrequencyRule.created_at)
    )
    return list(found.scalars())


async def frequency_block(
    session: AsyncSession,
    rules: Sequence[FrequencyRule],
    person: Person,
    tenant_id: str,
    survey_id: str,
    channel: str | None,
    now: datetime,
    *,
    channel_rules: bool,
) -> str | None:
    """The name of the first rule that forbids another invitation, or None.

    ``channel_rules`` picks the rules that name a channel (checked per
    candidate channel) or those that do not (checked once per send).
    """
    for rule in rules:
        if (rule.channel is not None) != channel_rules:
            continue
        if not _rule_applies(rule, survey_id, channel, person):
            continue
        query = select(func.count()).where(
            Invitation.tenant_id == tenant_id,
            Invitation.contact_id == person.contact_id,
            Invitation.status.in_(COUNTED),
            Invitation.created_at >= now - timedelta(days=rule.period_days),
        )
        if rule.survey_id is not None:
            query = query.where(Invitation.survey_id == rule.survey_id)
        if rule.channel is not None:
            query = query.where(Invitation.channel == rule.channel)
        count = (await session.execute(query)).scalar_one()
        if count >= rule.max_count:
            return rule.name
    return None


def identity_for(person: Person, channel: str) -> str | None:
    return {
        "email": person.email,
        "sms": person.phone,
        "wechat": person.wechat_openid,
        "wecom": person.wecom_userid,
    }.get(channel)


async def configured_channels(session: AsyncSession, tenant_id: str) -> set[str]:
    found = await session.execute(
        select(ChannelConfig.channel).where(ChannelConfig.tenant_id == tenant_id, ChannelConfig.enabled)
    )
    channels = set(found.scalars())
    if get_settings().smtp_host:
        channels.add("email")
    return channels


def candidate_order(person: Person, policy: Policy, requested: str | None) -> list[str]:
    if requested is not None:
        return [requested]
    order = list(policy.fallback_order)
    preferred = person.attributes.get(PREFERENCE_ATTRIBUTE)
    if isinstance(preferred, str) and preferred in CHANNELS:
        order = [preferred] + [channel for channel in order if channel != preferred]
    return order
