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

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient
from cxloop.distribution.content import language_of, render_invitation
from cxloop.distribution.directory import directory
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


async def outgoing_for(session: AsyncSession, invitation: Invitation, to: str, name: str | None) -> Outgoing:
    language = language_of(invitation.language)
    title = await survey_title(session, invitation.survey_id, language)
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


async def deliver_invitation(
    session: AsyncSession, invitation_id: str, *, now: datetime | None = None
) -> str:
    """Send one queued invitation; answers its new status (or the old one if
    there was nothing to do, e.g. a duplicate run of the job)."""
    locked = select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    invitation = (await session.execute(locked)).scalar_one_or_none()
    if invitation is None or invitation.status != QUEUED:
        return "gone" if invitation is None else invitation.status
    now = now or now_utc()
    channel = invitation.channel or ""
    if invitation.expires_at is not None and invitation.expires_at <= now:
        invitation.status, invitation.skip_reason = SKIPPED, "link_expired"
        return SKIPPED
    person = await directory().reach(session, invitation.tenant_id, invitation.contact_id)
    if person is None:
        invitation.status, invitation.skip_reason = SKIPPED, "contact_gone"
        return SKIPPED
    # Consent is checked again here: a withdrawal that arrived after the
    # invitation was made (mid-batch) stops this message.
    if not await directory().consent(session, invitation.tenant_id, invitation.contact_id, channel):
        invitation.status, invitation.skip_reason = SKIPPED, "consent_withdrawn"
        return SKIPPED
    to = identity_for(person, channel)
    if not to:
        invitation.status, invitation.skip_reason = SKIPPED, f"{channel}:no_identity"
        return SKIPPED
    invitation.attempts += 1
    attempt = DeliveryAttempt(
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
    )
    try:
        adapter = await adapter_for(session, invitation.tenant_id, channel)
        attempt.provider = adapter.provider
        message = await outgoing_for(session, invitation, to, person.first_name or person.name)
        await pace.wait(
            f"{invitation.tenant_id}:{channel}", await rate_for(session, invitation.tenant_id, channel)
        )
        sent: Sent = await adapter.send(message)
    except Permanent as error:
        attempt.outcome, attempt.error = "failed", str(error)[:2000]
        invitation.status, invitation.last_error = FAILED, str(error)[:2000]
        session.add(attempt)
        log.warning("invitation %s failed: %s", invitation.id, error)
        return FAILED
    except Exception as error:  # Transient, or an adapter fault: retried, never lost
        if not isinstance(error, Transient):
            log.exception("invitation %s: unexpected adapter error", invitation.id)
        attempt.outcome, attempt.error = "transient", str(error)[:2000]
        invitation.last_error = str(error)[:2000]
        if invitation.attempts >= get_settings().delivery_max_attempts:
            invitation.status = FAILED
            attempt.outcome = "failed"
        else:
            invitation.status = RETRYING
            invitation.due_at = now + retry_delay(invitation.attempts)
        session.add(attempt)
        log.warning("invitation %s: %s (attempt %d)", invitation.id, error, invitation.attempts)
        return invitation.status
    attempt.provider_message_id = sent.provider_message_id
    session.add(attempt)
    invitation.status = SENT
    invitation.sent_at = invitation.sent_at or now
    invitation.last_sent_at = now
    invitation.provider_message_id = sent.provider_message_id
    invitation.last_error = None
    invitation.due_at = None
    return SENT


@job(DELIVER_JOB, max_attempts=5)
async def run_deliver(session: AsyncSession, payload: dict[str, object]) -> None:
    invitation_id = payload.get("invitation_id")
    if isinstance(invitation_id, str):
        await deliver_invitation(session, invitation_id)
