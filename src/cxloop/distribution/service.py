"""The send path: ``send_survey`` decides whether, when and through what a
contact is asked, and leaves an invitation (or the reason it was skipped).
Never commits; the delivery itself is an outbox job that runs after commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import SurveyLink
from cxloop.distribution.directory import Person, directory
from cxloop.distribution.models import QUEUED, SCHEDULED, SKIPPED, Invitation
from cxloop.distribution.rules import (
    candidate_order,
    configured_channels,
    frequency_block,
    frequency_rules,
    identity_for,
    quiet_until,
    tenant_policy,
)
from cxloop.identity import Perm, Principal
from cxloop.kit import clock
from cxloop.kit.errors import Conflict, Forbidden, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue
from cxloop.kit.settings import get_settings
from cxloop.surveys import PUBLISHED, Survey

DELIVER_JOB = "distribution.deliver"
# Invitations per bulk delivery job (campaigns, reminders, the tick's releases):
# what a crash before that job's commit may send again (ADR 0016, amendment).
DELIVERY_BATCH = 50
ACTOR = "distribution"


def require_tenant_config(principal: Principal) -> None:
    """Channel settings, rules and triggers act on the whole directory: tenant-wide configurers only."""
    principal.require(Perm.CONFIG_WRITE)
    if not principal.reach(Perm.CONFIG_WRITE).everywhere:
        raise Forbidden("Only tenant-wide roles may change distribution settings.", code="permission_denied")


def now_utc() -> datetime:
    # Looked up on the module each time, so tests can move the clock.
    return clock.utc_now()


def short_url(code: str) -> str:
    return get_settings().public_url.rstrip("/") + f"/i/{code}"


def unsubscribe_url(code: str) -> str:
    return get_settings().public_url.rstrip("/") + f"/i/{code}/unsubscribe"


def enqueue_deliveries(session: AsyncSession, invitation_ids: list[str]) -> int:
    """One delivery job per ``DELIVERY_BATCH`` queued invitations; answers the job count."""
    jobs = 0
    for start in range(0, len(invitation_ids), DELIVERY_BATCH):
        enqueue(session, DELIVER_JOB, {"invitation_ids": invitation_ids[start : start + DELIVERY_BATCH]})
        jobs += 1
    return jobs


async def open_survey(session: AsyncSession, tenant_id: str, survey_id: str) -> Survey:
    survey = await session.get(Survey, survey_id) if len(survey_id) <= 26 else None
    if survey is None or survey.tenant_id != tenant_id:
        raise not_found("survey")
    if survey.status != PUBLISHED:
        raise Conflict("Only a published survey can be sent.", code="survey_not_published")
    return survey


async def choose_channel(
    session: AsyncSession,
    tenant_id: str,
    person: Person,
    survey_id: str,
    requested: str | None,
    now: datetime,
    *,
    respect_frequency: bool,
    rules: list[Any],
) -> tuple[str | None, str]:
    """The first channel in the fallback order that the contact consents to,
    has an identity for, the tenant has configured and no rule blocks; else
    None and why each candidate was passed over."""
    policy = await tenant_policy(session, tenant_id)
    configured = await configured_channels(session, tenant_id)
    passed: list[str] = []
    for channel in candidate_order(person, policy, requested):
        if channel not in configured:
            passed.append(f"{channel}:not_configured")
            continue
        if not identity_for(person, channel):
            passed.append(f"{channel}:no_identity")
            continue
        if not await directory().consent(session, tenant_id, person.contact_id, channel):
            passed.append(f"{channel}:no_consent")
            continue
        if respect_frequency:
            blocked = await frequency_block(
                session, rules, person, tenant_id, survey_id, channel, now, channel_rules=True
            )
            if blocked is not None:
                passed.append(f"{channel}:frequency:{blocked}")
                continue
        return channel, ""
    return None, "no_channel(" + ",".join(passed) + ")"


def _skipped(
    tenant_id: str, contact_id: str, survey_id: str, channel: str | None, reason: str, why: str, now: datetime
) -> Invitation:
    return Invitation(
        id=new_id(),
        tenant_id=tenant_id,
        survey_id=survey_id,
        contact_id=contact_id,
        channel=channel,
        status=SKIPPED,
        skip_reason=why[:120],
        reason=reason[:64],
        embedded={},
        created_at=now,
        attempts=0,
        send_no=0,
        reminders_sent=0,
    )


async def invite(
    session: AsyncSession,
    tenant_id: str,
    contact_id: str,
    survey_id: str,
    *,
    channel: str | None = None,
    reason: str,
    touchpoint: str | None = None,
    embedded: dict[str, Any] | None = None,
    respect_frequency: bool = True,
    campaign_id: str | None = None,
    trigger_id: str | None = None,
    unit_id: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    batch: list[str] | None = None,
    invitation_id: str | None = None,
) -> Invitation:
    """Invite one contact: the invitation, ``skipped`` with its reason or
    ``queued``/``scheduled``. The message leaves after commit: through a job
    of its own, or, when ``batch`` is given, the caller enqueues the ids
    collected there with ``enqueue_deliveries`` (bulk sends)."""
    now = now or now_utc()
    await open_survey(session, tenant_id, survey_id)
    person = await directory().reach(session, tenant_id, contact_id)
    if person is None:
        raise not_found("contact")
    rules = await frequency_rules(session, tenant_id) if respect_frequency else []
    if respect_frequency:
        blocked = await frequency_block(
            session, rules, person, tenant_id, survey_id, None, now, channel_rules=False
        )
        if blocked is not None:
            skipped = _skipped(tenant_id, contact_id, survey_id, channel, reason, f"frequency:{blocked}", now)
            session.add(skipped)
            await session.flush()
            return skipped
    chosen, why = await choose_channel(
        session, tenant_id, person, survey_id, channel, now, respect_frequency=respect_frequency, rules=rules
    )
    if chosen is None:
        skipped = _skipped(tenant_id, contact_id, survey_id, channel, reason, why, now)
        session.add(skipped)
        await session.flush()
        return skipped
    policy = await tenant_policy(session, tenant_id)
    deferred = quiet_until(now, person.timezone, policy.quiet_start, policy.quiet_end)
    link = SurveyLink(
        id=new_id(),
        tenant_id=tenant_id,
        survey_id=survey_id,
        unit_id=unit_id or person.unit_id,
        channel=chosen,
        touchpoint=touchpoint,
        language=None,
        embedded=dict(embedded or {}),
        # Customers resolves a response's contact from this.
        contact_ref={"contact_id": contact_id},
        created_at=now,
        created_by=ACTOR,
        expires_at=expires_at,
        completed_at=None,
    )
    invitation = Invitation(
        id=invitation_id or new_id(),
        tenant_id=tenant_id,
        survey_id=survey_id,
        contact_id=contact_id,
        channel=chosen,
        status=SCHEDULED if deferred is not None else QUEUED,
        reason=reason[:64],
        touchpoint=touchpoint,
        unit_id=unit_id or person.unit_id,
        language=person.language,
        embedded=dict(embedded or {}),
        link_id=link.id,
        code=secrets.token_urlsafe(12),
        campaign_id=campaign_id,
        trigger_id=trigger_id,
        created_at=now,
        due_at=deferred,
        expires_at=expires_at,
        attempts=0,
        send_no=0,
        reminders_sent=0,
    )
    session.add(link)
    await session.flush()
    session.add(invitation)
    await session.flush()
    if deferred is None and batch is not None:
        batch.append(invitation.id)
    elif deferred is None:
        enqueue(session, DELIVER_JOB, {"invitation_id": invitation.id})
    return invitation


async def send_survey(
    session: AsyncSession,
    tenant_id: str,
    contact_id: str,
    survey_id: str,
    *,
    channel: str | None = None,
    reason: str,
    touchpoint: str | None = None,
    embedded: dict[str, Any] | None = None,
    respect_frequency: bool = True,
    campaign_id: str | None = None,
    trigger_id: str | None = None,
    unit_id: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    batch: list[str] | None = None,
    invitation_id: str | None = None,
) -> str | None:
    """Invite one contact; the invitation id, or None when skipped (the
    skipped invitation row says why). The message leaves after commit."""
    invitation = await invite(
        session,
        tenant_id,
        contact_id,
        survey_id,
        channel=channel,
        reason=reason,
        touchpoint=touchpoint,
        embedded=embedded,
        respect_frequency=respect_frequency,
        campaign_id=campaign_id,
        trigger_id=trigger_id,
        unit_id=unit_id,
        expires_at=expires_at,
        now=now,
        batch=batch,
        invitation_id=invitation_id,
    )
    return None if invitation.status == SKIPPED else invitation.id
