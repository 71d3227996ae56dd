"""Job handlers of the distribution domain (imported by cxloop.worker.jobs),
and its subscribers: customer events (triggers) and stored responses
(invitations completed)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response, subscribe_batch
from cxloop.customers import TimelineEntry, register_timeline_source, subscribe_events, subscribe_merges
from cxloop.distribution import delivery, tick  # noqa: F401  (registers the jobs)
from cxloop.distribution.models import COMPLETED, Invitation
from cxloop.distribution.service import now_utc
from cxloop.distribution.triggers import on_event

log = logging.getLogger("cxloop.distribution")
EVENTS_SUBSCRIBER = "distribution.triggers"


@subscribe_batch("distribution.responses")
async def on_responses(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
    """A response through a personal link completes its invitation (one query per batch)."""
    links: set[str] = set()
    for response_id, _payload in items:
        response = await session.get(Response, response_id)  # preloaded by the pipeline
        if response is not None and response.link_id is not None:
            links.add(response.link_id)
    if not links:
        return
    found = await session.execute(select(Invitation).where(Invitation.link_id.in_(sorted(links))))
    now = now_utc()
    for invitation in found.scalars():
        if invitation.responded_at is None:
            invitation.status, invitation.responded_at = COMPLETED, now


@subscribe_events(EVENTS_SUBSCRIBER)
async def on_customer_event(session: AsyncSession, event_id: str, payload: dict[str, Any]) -> None:
    await on_event(session, event_id, payload)


@subscribe_merges("distribution.invitations")
async def on_merge(session: AsyncSession, tenant_id: str, survivor_id: str, merged_id: str) -> None:
    """The merged contact's invitations become the survivor's, so frequency rules see them all."""
    await session.execute(
        update(Invitation)
        .where(Invitation.tenant_id == tenant_id, Invitation.contact_id == merged_id)
        .values(contact_id=survivor_id)
    )


async def invitation_timeline(
    session: AsyncSession, tenant_id: str, contact_id: str, limit: int
) -> list[TimelineEntry]:
    """The contact's invitations on its timeline: when, through what, and how it went."""
    found = await session.execute(
        select(Invitation)
        .where(Invitation.tenant_id == tenant_id, Invitation.contact_id == contact_id)
        .order_by(Invitation.created_at.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=row.created_at,
            kind="invitation",
            title=f"{row.channel or '-'}: {row.status}",
            detail={
                "survey_id": row.survey_id,
                "channel": row.channel,
                "status": row.status,
                "skip_reason": row.skip_reason,
                "reason": row.reason,
                "campaign_id": row.campaign_id,
                "trigger_id": row.trigger_id,
            },
            ref=row.id,
        )
        for row in found.scalars()
    ]


register_timeline_source("distribution.invitations", invitation_timeline)
