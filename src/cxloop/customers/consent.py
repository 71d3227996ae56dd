"""The consent ledger: append-only, per contact, channel and purpose; the latest record wins.

With no record a send is allowed, unless the tenant's policy lists the
channel as opt-in only. A withdrawal (an unsubscribe link, a STOP reply) is
one more row, so it takes effect for every later check at once.

A merge moves a contact's ledger to the surviving record, and invitations,
unsubscribe links and STOP replies made before the merge still name the
merged one; so every read and write here follows ``merged_into`` to the
survivor, or a withdrawal would be lost on the record nobody reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import ConsentPolicy, ConsentRecord, Contact
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import invalid
from cxloop.kit.ids import new_id

CHANNELS = ("email", "sms", "wechat", "wecom", "web")
PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SOURCE = re.compile(r"^[a-z][a-z0-9_.\-]{0,31}$")
UNSUBSCRIBE_SALT = "cxloop.customers.unsubscribe"


async def _survivors(session: AsyncSession, tenant_id: str, contact_ids: Iterable[str]) -> dict[str, str]:
    """{asked id: id of the record its ledger lives on}, one query per merge hop."""
    found = {asked: asked for asked in contact_ids}
    pending = dict(found)
    for _ in range(10):
        if not pending:
            break
        statement = select(Contact.id, Contact.merged_into).where(
            Contact.tenant_id == tenant_id,
            Contact.id.in_(set(pending.values())),
            Contact.merged_into.is_not(None),
        )
        onward = {row.id: row.merged_into for row in await session.execute(statement)}
        pending = {asked: onward[at] for asked, at in pending.items() if at in onward}
        found.update(pending)
    return found


def check_consent_fields(channel: str, purpose: str, source: str) -> None:
    if channel not in CHANNELS:
        raise invalid("channel", f"must be one of {', '.join(CHANNELS)}", code="unknown_channel")
    if not PURPOSE.match(purpose):
        raise invalid("purpose", "a purpose is lower-case letters, digits and _ (e.g. survey)")
    if not SOURCE.match(source):
        raise invalid("source", "a source is lower-case letters, digits, _ . - (e.g. sms_stop)")


async def record_consent(
    session: AsyncSession,
    tenant_id: str,
    contact_id: str,
    channel: str,
    purpose: str,
    granted: bool,
    *,
    source: str,
    policy_version: str | None = None,
    at: datetime | None = None,
) -> None:
    check_consent_fields(channel, purpose, source)
    contact_id = (await _survivors(session, tenant_id, [contact_id]))[contact_id]
    session.add(
        ConsentRecord(
            id=new_id(),
            tenant_id=tenant_id,
            contact_id=contact_id,
            channel=channel,
            purpose=purpose,
            granted=granted,
            source=source,
            policy_version=policy_version,
            recorded_at=at or utc_now(),
        )
    )
    await session.flush()


async def opt_in_channels(session: AsyncSession, tenant_id: str) -> frozenset[str]:
    policy = await session.get(ConsentPolicy, tenant_id)
    return frozenset(policy.opt_in_channels) if policy is not None else frozenset()


async def consent_allows(
    session: AsyncSession, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
) -> bool:
    contact_id = (await _survivors(session, tenant_id, [contact_id]))[contact_id]
    statement = (
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.tenant_id == tenant_id,
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.channel == channel,
            ConsentRecord.purpose == purpose,
        )
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    latest = (await session.execute(statement)).scalar_one_or_none()
    if latest is None:
        return channel not in await opt_in_channels(session, tenant_id)
    return bool(latest)


async def consents_allow(
    session: AsyncSession, tenant_id: str, wanted: Iterable[tuple[str, str]], purpose: str = "survey"
) -> dict[tuple[str, str], bool]:
    """``consent_allows`` for a batch of (contact id, channel) pairs in one
    ledger query (plus the tenant's policy once): {pair: allowed}."""
    pairs = set(wanted)
    if not pairs:
        return {}
    holder = await _survivors(session, tenant_id, {contact_id for contact_id, _ in pairs})
    statement = (
        select(ConsentRecord.contact_id, ConsentRecord.channel, ConsentRecord.granted)
        .where(
            ConsentRecord.tenant_id == tenant_id,
            ConsentRecord.contact_id.in_(set(holder.values())),
            ConsentRecord.channel.in_({channel for _, channel in pairs}),
            ConsentRecord.purpose == purpose,
        )
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
    )
    latest: dict[tuple[str, str], bool] = {}
    for contact_id, channel, granted in await session.execute(statement):
        latest.setdefault((contact_id, channel), bool(granted))
    # The policy decides only for pairs with no record; read it once, if any.
    held = {pair: (holder[pair[0]], pair[1]) for pair in pairs}
    unrecorded = [pair for pair in pairs if held[pair] not in latest]
    opt_in = await opt_in_channels(session, tenant_id) if unrecorded else frozenset()
    return {pair: latest[held[pair]] if held[pair] in latest else pair[1] not in opt_in for pair in pairs}


async def ledger(session: AsyncSession, tenant_id: str, contact_id: str) -> list[ConsentRecord]:
    statement = (
        select(ConsentRecord)
        .where(ConsentRecord.tenant_id == tenant_id, ConsentRecord.contact_id == contact_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
    )
    return list((await session.execute(statement)).scalars())


def current_state(records: list[ConsentRecord]) -> dict[str, dict[str, bool]]:
    """{channel: {purpose: granted}} from a ledger listed newest first."""
    state: dict[str, dict[str, bool]] = {}
    for record in records:
        state.setdefault(record.channel, {}).setdefault(record.purpose, record.granted)
    return state


async def set_policy(
    session: AsyncSession, tenant_id: str, channels: list[str], policy_version: str | None
) -> ConsentPolicy:
    for index, channel in enumerate(channels):
        if channel not in CHANNELS:
            raise invalid(f"opt_in_channels[{index}]", f"must be one of {', '.join(CHANNELS)}")
    policy = await session.get(ConsentPolicy, tenant_id)
    if policy is None:
        policy = ConsentPolicy(tenant_id=tenant_id, opt_in_channels=[], updated_at=utc_now())
        session.add(policy)
    policy.opt_in_channels = sorted(set(channels))
    policy.policy_version = policy_version
    policy.updated_at = utc_now()
    await session.flush()
    return policy


@dataclass(frozen=True)
class UnsubscribeTarget:
    tenant_id: str
    contact_id: str
    channel: str
    purpose: str


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(
    secret_key: str, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
) -> str:
    return str(_serializer(secret_key).dumps([tenant_id, contact_id, channel, purpose]))


def unsubscribe_url(
    secret_key: str, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
) -> str:
    """The path of the one-click unsubscribe page (prefix the public base URL for mail headers)."""
    return "/u/" + unsubscribe_token(secret_key, tenant_id, contact_id, channel, purpose)


def read_unsubscribe_token(secret_key: str, token: str) -> UnsubscribeTarget | None:
    if len(token) > 500:
        return None
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not (isinstance(data, list) and len(data) == 4 and all(isinstance(part, str) for part in data)):
        return None
    if data[2] not in CHANNELS:
        return None
    return UnsubscribeTarget(*data)
