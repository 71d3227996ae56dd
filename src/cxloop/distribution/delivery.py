"""Delivery: one outbox job per invitation send hands it to its channel.

The job re-checks what may have changed since the invitation was made
(consent withdrawn while a batch was sending, link expired, contact gone),
then calls the provider with an idempotency key that is the same on every
retry of one send (``inv-{id}-{send_no}``): a provider that dedupes on it
(our Message-ID, Aliyun OutId, Tencent SessionContext, the generic
gateway's Idempotency-Key) never doubles a message even if this worker dies
between the provider's answer and the commit. A provider fault moves the
invitation to ``retrying`` with a due time (exponential backoff) that the
periodic tick picks up; after ``delivery_max_attempts`` it is ``failed``.
Nothing is lost: every invitation is sent, failed, skipped, or has a due
time or a job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.channels.base import (
    Adapter,
    Outgoing,
    Permanent,
    Sent,
    Transient,
    without_contact_data,
)
from cxloop.distribution.content import language_of, render_invitation
from cxloop.distribution.directory import Person, directory
from cxloop.distribution.models import FAILED, QUEUED, RETRYING, SENT, SKIPPED, DeliveryAttempt, Invitation
from cxloop.distribution.providers import adapter_for, pace, rate_for
from cxloop.distribution.rules import identity_for
from cxloop.distribution.service import DELIVER_JOB, now_utc, short_url, unsubscribe_url
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import job
from cxloop.kit.settings import get_settings
from cxloop.surveys import Survey, SurveyVersion, text_in

log = logging.getLogger("cxloop.distribution")


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def idempotency_key(invitation: Invitation) -> str:
    return f"inv-{invitation.id}-{invitation.send_no}"


async def survey_title(session: AsyncSession, survey_id: str, language: str) -> str:
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.published_version is None:
        return ""
    version = await session.get(SurveyVersion, (survey_id, survey.published_version))
    if version is None:
        return ""
    definition = version.definition
    title = definition.get("title") if isinstance(definition, dict) else None
    default = definition.get("default_language", "zh-CN") if isinstance(definition, dict) else "zh-CN"
    return text_in(title if isinstance(title, dict) else None, language, str(default))


async def outgoing_for(
    session: AsyncSession,
    invitation: Invitation,
    to: str,
    name: str | None,
    titles: dict[tuple[str, str], str] | None = None,
) -> Outgoing:
    """The message; ``titles`` caches survey titles across a batch."""
    language = language_of(invitation.language)
    titles = {} if titles is None else titles
    if (invitation.survey_id, language) not in titles:
        titles[invitation.survey_id, language] = await survey_title(session, invitation.survey_id, language)
    title = titles[invitation.survey_id, language]
    code = invitation.code or ""
    link = short_url(code)
    unsubscribe = unsubscribe_url(code) if invitation.channel == "email" else None
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC") if invitation.expires_at else None
    rendered = render_invitation(
        language=language,
        title=title,
        link=link,
        name=name,
        unsubscribe_url=unsubscribe,
        expires=expires,
        reminder=invitation.send_no > 0,
    )
    return Outgoing(
        invitation_id=invitation.id,
        tenant_id=invitation.tenant_id,
        channel=invitation.channel or "",
        to=to,
        language=language,
        subject=rendered.subject,
        text=rendered.sms if invitation.channel == "sms" else rendered.text,
        html=rendered.html,
        link=link,
        idempotency_key=idempotency_key(invitation),
        unsubscribe_url=unsubscribe,
        params={
            "name": name,
            "title": title,
            "first": rendered.wechat_first,
            "remark": rendered.wechat_remark,
            "code": code,
        },
    )


@dataclass
class _Claimed:
    """An invitation checked and ready to leave: what the send and the record need."""

    invitation: Invitation
    attempt: DeliveryAttempt
    adapter: Adapter | None = None
    message: Outgoing | None = None
    rate: float | None = None
    error: Exception | None = None  # raised while preparing: recorded like a send fault


@dataclass
class _Lookups:
    """What a batch looks up once, not per message: the adapter and rate per
    (tenant, channel), the survey title per (survey, language), and the
    recipients: each contact (None: gone) per (tenant, contact id) and its
    consent per (tenant, contact id, channel), one directory query per
    tenant each (``_look_up_recipients``)."""

    channels: dict[tuple[str, str], tuple[Adapter, float | None]] = field(default_factory=dict)
    titles: dict[tuple[str, str], str] = field(default_factory=dict)
    people: dict[tuple[str, str], Person | None] = field(default_factory=dict)
    consents: dict[tuple[str, str, str], bool] = field(default_factory=dict)


def _may_leave(invitation: Invitation, now: datetime) -> bool:
    return invitation.status == QUEUED and (invitation.expires_at is None or invitation.expires_at > now)


async def _look_up_recipients(
    session: AsyncSession, invitations: Iterable[Invitation], now: datetime, lookups: _Lookups
) -> None:
    """Read the contacts and consents of the invitations that may leave, in
    one directory call per tenant each instead of several reads a message.
    Read after the invitations are locked, like the per-message reads were:
    a withdrawal that arrived after the invitations were made still stops
    its message."""
    by_tenant: dict[str, list[Invitation]] = {}
    for invitation in invitations:
        if _may_leave(invitation, now):
            by_tenant.setdefault(invitation.tenant_id, []).append(invitation)
    for tenant_id, group in by_tenant.items():
        contact_ids = list(dict.fromkeys(invitation.contact_id for invitation in group))
        people = await directory().reach_many(session, tenant_id, contact_ids)
        for contact_id in contact_ids:
            lookups.people[tenant_id, contact_id] = people.get(contact_id)
        wanted = {(each.contact_id, each.channel or "") for each in group if each.contact_id in people}
        allowed = await directory().consent_many(session, tenant_id, wanted)
        for contact_id, channel in wanted:
            lookups.consents[tenant_id, contact_id, channel] = allowed[contact_id, channel]


async def _claim(
    session: AsyncSession, invitation: Invitation | None, now: datetime, lookups: _Lookups
) -> _Claimed | str:
    """Re-check one locked invitation; its final status if it must not be
    sent, else everything its send needs (no database access after this
    when ``_look_up_recipients`` ran for it)."""
    if invitation is None or invitation.status != QUEUED:
        return "gone" if invitation is None else invitation.status
    channel = invitation.channel or ""
    if invitation.expires_at is not None and invitation.expires_at <= now:
        invitation.status, invitation.skip_reason = SKIPPED, "link_expired"
        return SKIPPED
    tenant_id, contact_id = invitation.tenant_id, invitation.contact_id
    if (tenant_id, contact_id) not in lookups.people:
        lookups.people[tenant_id, contact_id] = await directory().reach(session, tenant_id, contact_id)
    person = lookups.people[tenant_id, contact_id]
    if person is None:
        invitation.status, invitation.skip_reason = SKIPPED, "contact_gone"
        return SKIPPED
    # Consent is checked again here: a withdrawal that arrived after the
    # invitation was made (mid-batch) stops this message.
    if (tenant_id, contact_id, channel) not in lookups.consents:
        allowed = await directory().consent(session, tenant_id, contact_id, channel)
        lookups.consents[tenant_id, contact_id, channel] = allowed
    if not lookups.consents[tenant_id, contact_id, channel]:
        invitation.status, invitation.skip_reason = SKIPPED, "consent_withdrawn"
        return SKIPPED
    to = identity_for(person, channel)
    if not to:
        invitation.status, invitation.skip_reason = SKIPPED, f"{channel}:no_identity"
        return SKIPPED
    invitation.attempts += 1
    claimed = _Claimed(
        invitation=invitation,
        attempt=DeliveryAttempt(
            id=new_id(),
            tenant_id=invitation.tenant_id,
            invitation_id=invitation.id,
            send_no=invitation.send_no,
            attempt=invitation.attempts,
            idempotency_key=idempotency_key(invitation),
            channel=channel,
            provider="unknown",
            outcome="sent",
            at=now,
        ),
    )
    try:
        key = (invitation.tenant_id, channel)
        if key not in lookups.channels:
            adapter = await adapter_for(session, invitation.tenant_id, channel)
            lookups.channels[key] = (adapter, await rate_for(session, invitation.tenant_id, channel))
        claimed.adapter, claimed.rate = lookups.channels[key]
        claimed.attempt.provider = claimed.adapter.provider
        claimed.message = await outgoing_for(
            session, invitation, to, person.first_name or person.name, lookups.titles
        )
    except Exception as error:
        claimed.error = error
    return claimed


async def _send(claimed: _Claimed) -> Sent | Exception:
    """The provider call only: safe to run for many claims at once."""
    if claimed.error is not None:
        return claimed.error
    assert claimed.adapter is not None and claimed.message is not None
    try:
        await pace.wait(f"{claimed.invitation.tenant_id}:{claimed.invitation.channel}", claimed.rate)
        return await claimed.adapter.send(claimed.message)
    except Exception as error:
        return error


def _record(session: AsyncSession, claimed: _Claimed, outcome: Sent | Exception, now: datetime) -> str:
    invitation, attempt = claimed.invitation, claimed.attempt
    session.add(attempt)
    error_text = without_contact_data(str(outcome))[:2000] if isinstance(outcome, Exception) else ""
    if isinstance(outcome, Permanent):
        attempt.outcome, attempt.error = "failed", error_text
        invitation.status, invitation.last_error = FAILED, error_text
        log.warning("invitation %s failed: %s", invitation.id, error_text)
        return FAILED
    if isinstance(outcome, Exception):  # Transient, or an adapter fault: retried, never lost
        if not isinstance(outcome, Transient):
            log.error("invitation %s: unexpected adapter error", invitation.id, exc_info=outcome)
        attempt.outcome, attempt.error = "transient", error_text
        invitation.last_error = error_text
        if invitation.attempts >= get_settings().delivery_max_attempts:
            invitation.status = FAILED
            attempt.outcome = "failed"
        else:
            invitation.status = RETRYING
            invitation.due_at = now + retry_delay(invitation.attempts)
        log.warning("invitation %s: %s (attempt %d)", invitation.id, error_text, invitation.attempts)
        return invitation.status
    attempt.provider_message_id = outcome.provider_message_id
    invitation.status = SENT
    invitation.sent_at = invitation.sent_at or now
    invitation.last_sent_at = now
    invitation.provider_message_id = outcome.provider_message_id
    invitation.last_error = None
    invitation.due_at = None
    return SENT


async def deliver_invitation(
    session: AsyncSession, invitation_id: str, *, now: datetime | None = None
) -> str:
    """Send one queued invitation; answers its new status (or the old one if
    there was nothing to do, e.g. a duplicate run of the job)."""
    now = now or now_utc()
    locked = select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    claimed = await _claim(session, (await session.execute(locked)).scalar_one_or_none(), now, _Lookups())
    if isinstance(claimed, str):
        return claimed
    return _record(session, claimed, await _send(claimed), now)


async def deliver_batch(
    session: AsyncSession, invitation_ids: list[str], *, now: datetime | None = None
) -> list[str]:
    """Send a batch of queued invitations (a campaign's, the tick's): all are
    locked and re-checked first, then sent concurrently (the email adapter
    spreads them over its pool of reused connections), then recorded, in the
    one transaction of the job. A crash before its commit re-sends the whole
    batch, each message with the same idempotency key (ADR 0016, amendment)."""
    now = now or now_utc()
    # Each invitation once: a repeated id would be claimed twice before either is recorded.
    invitation_ids = list(dict.fromkeys(invitation_ids))
    locked = select(Invitation).where(Invitation.id.in_(invitation_ids)).with_for_update()
    found = {invitation.id: invitation for invitation in (await session.execute(locked)).scalars()}
    lookups = _Lookups()
    await _look_up_recipients(session, found.values(), now, lookups)
    claims = [await _claim(session, found.get(each), now, lookups) for each in invitation_ids]
    ready = [claim for claim in claims if not isinstance(claim, str)]
    # No database access while the sends run: the session is not shared across tasks.
    outcomes = await asyncio.gather(*(_send(claim) for claim in ready))
    recorded = iter(
        [_record(session, claim, outcome, now) for claim, outcome in zip(ready, outcomes, strict=True)]
    )
    return [claim if isinstance(claim, str) else next(recorded) for claim in claims]


@job(DELIVER_JOB, max_attempts=5)
async def run_deliver(session: AsyncSession, payload: dict[str, object]) -> None:
    invitation_id = payload.get("invitation_id")
    if isinstance(invitation_id, str):
        await deliver_invitation(session, invitation_id)
    batch = payload.get("invitation_ids")
    if isinstance(batch, list):
        await deliver_batch(session, [str(each) for each in batch])
