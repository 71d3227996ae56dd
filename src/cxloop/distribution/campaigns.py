"""Campaigns: one-off sends to a segment or a list (now or at a set time),
recurring relationship surveys on a cadence per contact, and reminders to
non-responders. The sending itself happens in the periodic tick, in bounded
chunks, so a large audience never becomes one long transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.directory import directory
from cxloop.distribution.models import (
    DELIVERED,
    QUEUED,
    SCHEDULED,
    SENT,
    SKIPPED,
    STARTED,
    Campaign,
    CampaignMember,
    Invitation,
)
from cxloop.distribution.rules import Policy, quiet_until, tenant_policy
from cxloop.distribution.service import enqueue_deliveries, send_survey
from cxloop.kit.errors import AppError
from cxloop.kit.ids import new_id

ONE_OFF, RECURRING = "one_off", "recurring"
DRAFT, SCHEDULED_C, RUNNING, FINISHED = "draft", "scheduled", "running", "finished"
CHUNK = 500


async def audience(session: AsyncSession, campaign: Campaign) -> list[str]:
    if campaign.segment_id:
        return await directory().segment(session, campaign.tenant_id, campaign.segment_id)
    seen: dict[str, None] = dict.fromkeys(campaign.contact_ids or [])
    return list(seen)


def _expiry(campaign: Campaign, now: datetime) -> datetime | None:
    return now + timedelta(days=campaign.link_days) if campaign.link_days else None


async def _send(
    session: AsyncSession, campaign: Campaign, contact_id: str, now: datetime, batch: list[str]
) -> None:
    try:
        await send_survey(
            session,
            campaign.tenant_id,
            contact_id,
            campaign.survey_id,
            channel=campaign.channel,
            reason=f"campaign:{campaign.name}"[:64],
            touchpoint=campaign.touchpoint,
            campaign_id=campaign.id,
            expires_at=_expiry(campaign, now),
            now=now,
            batch=batch,
        )
    except AppError as error:
        # A contact deleted since the audience was read (or the survey closed):
        # recorded, so the campaign's funnel says why and the contact is not retried.
        session.add(
            Invitation(
                id=new_id(),
                tenant_id=campaign.tenant_id,
                survey_id=campaign.survey_id,
                contact_id=contact_id[:26],
                channel=campaign.channel,
                status=SKIPPED,
                skip_reason=error.code[:120],
                reason=f"campaign:{campaign.name}"[:64],
                embedded={},
                campaign_id=campaign.id,
                created_at=now,
                attempts=0,
                send_no=0,
                reminders_sent=0,
            )
        )
        await session.flush()


def spread_offset(campaign_id: str, contact_id: str, period: timedelta) -> timedelta:
    """Where in the period a contact falls: a stable hash, so the audience
    spreads evenly over the cadence and keeps its slot from cycle to cycle."""
    digest = hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=int(period.total_seconds() * fraction))


async def _one_off(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    invited = set(
        (
            await session.execute(
                select(Invitation.contact_id).where(
                    Invitation.tenant_id == campaign.tenant_id, Invitation.campaign_id == campaign.id
                )
            )
        ).scalars()
    )
    todo = [contact_id for contact_id in await audience(session, campaign) if contact_id not in invited]
    batch: list[str] = []
    for contact_id in todo[:CHUNK]:
        await _send(session, campaign, contact_id, now, batch)
    enqueue_deliveries(session, batch)
    if len(todo) <= CHUNK:
        campaign.status = FINISHED
    return min(len(todo), CHUNK)


async def _enrol(session: AsyncSession, campaign: Campaign, now: datetime) -> int:
    period = timedelta(days=campaign.cadence_days or 365)
    start = campaign.starts_at or now
    contacts = await audience(session, campaign)
    for contact_id in contacts:
        session.add(
            CampaignMember(
                campaign_id=campaign.id,
                contact_id=contact_id,
                tenant_id=campaign.tenant_id,
                next_due_at=start + spread_offset(campaign.id, contact_id, period),
            )
        )
    campaign.status = RUNNING
    await session.flush()
    return len(contacts)


async def due_campaigns(session: AsyncSession, now: datetime, *, only: str | None = None) -> int:
    query = select(Campaign).where(Campaign.status == SCHEDULED_C, Campaign.starts_at <= now)
    if only is not None:
        query = query.where(Campaign.id == only)
    found = await session.execute(query.order_by(Campaign.starts_at).limit(20))
    count = 0
    for campaign in found.scalars():
        campaign.launched_at = campaign.launched_at or now
        if campaign.kind == RECURRING:
            count += await _enrol(session, campaign, now)
        else:
            count += await _one_off(session, campaign, now)
    return count


async def due_members(session: AsyncSession, now: datetime) -> int:
    found = await session.execute(
        select(CampaignMember, Campaign)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(CampaignMember.next_due_at <= now, Campaign.status == RUNNING)
        .order_by(CampaignMember.next_due_at)
        .limit(CHUNK)
    )
    count = 0
    batch: list[str] = []
    for member, campaign in found.all():
        await _send(session, campaign, member.contact_id, now, batch)
        period = timedelta(days=campaign.cadence_days or 365)
        # Keep the slot: the next ask is one period after the one due, not after now.
        while member.next_due_at <= now:
            member.next_due_at = member.next_due_at + period
        count += 1
    enqueue_deliveries(session, batch)
    return count


async def due_reminders(session: AsyncSession, now: datetime) -> int:
    found = await session.execute(
        select(Invitation, Campaign)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .where(
            Campaign.reminder_after_days.is_not(None),
            Invitation.status.in_((SENT, DELIVERED, STARTED)),
            Invitation.responded_at.is_(None),
            Invitation.reminders_sent < Campaign.max_reminders,
        )
        .order_by(Invitation.last_sent_at)
        .limit(CHUNK)
    )
    count = 0
    policies: dict[str, Policy] = {}
    batch: list[str] = []
    for invitation, campaign in found.all():
        after = timedelta(days=campaign.reminder_after_days or 0)
        if invitation.last_sent_at is None or invitation.last_sent_at > now - after:
            continue
        if invitation.expires_at is not None and invitation.expires_at <= now:
            continue
        policy = policies.get(invitation.tenant_id) or await tenant_policy(session, invitation.tenant_id)
        policies[invitation.tenant_id] = policy
        person = await directory().reach(session, invitation.tenant_id, invitation.contact_id)
        deferred = quiet_until(now, person.timezone if person else None, policy.quiet_start, policy.quiet_end)
        invitation.send_no += 1
        invitation.reminders_sent += 1
        invitation.attempts = 0
        if deferred is not None:
            invitation.status, invitation.due_at = SCHEDULED, deferred
        else:
            invitation.status = QUEUED
            batch.append(invitation.id)
        count += 1
    enqueue_deliveries(session, batch)
    return count


async def audience_count(session: AsyncSession, campaign: Campaign) -> int:
    return len(await audience(session, campaign))


async def campaign_funnel(session: AsyncSession, tenant_id: str, campaign_id: str) -> dict[str, int]:
    found = await session.execute(
        select(Invitation.status, func.count())
        .where(Invitation.tenant_id == tenant_id, Invitation.campaign_id == campaign_id)
        .group_by(Invitation.status)
    )
    return {status: int(count) for status, count in found.all()}
