"""Provider callbacks: email bounces, SMS delivery receipts and STOP replies.

Each is called by a provider (or a relay in front of it) with a token of
the tenant that may change configuration; the body names the message by
the id we recorded when it was sent.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.directory import directory
from cxloop.distribution.models import BOUNCED, DELIVERED, FAILED, SENT, Invitation
from cxloop.distribution.schemas import BounceIn, ReceiptIn, StopIn
from cxloop.distribution.service import now_utc
from cxloop.identity import CurrentPrincipal, Perm
from cxloop.kit.errors import not_found
from cxloop.kit.http import DbSession, TransactionalRoute

router = APIRouter(tags=["distribution"], route_class=TransactionalRoute)
API = "/api/v1"
# Replies that mean "stop" (carriers' conventions, and the Chinese ones).
STOP_WORDS = re.compile(
    r"^\s*(stop|unsubscribe|cancel|end|quit|td|退订|取消|t)\s*[.!。！]*\s*$", re.IGNORECASE
)


async def _by_message_id(session: AsyncSession, tenant_id: str, message_id: str) -> Invitation:
    wanted = {message_id, message_id.strip("<>"), f"<{message_id.strip('<>')}>"}
    found = await session.execute(
        select(Invitation).where(
            Invitation.tenant_id == tenant_id, Invitation.provider_message_id.in_(wanted)
        )
    )
    row = found.scalars().first()
    if row is None:
        raise not_found("message")
    return row


@router.post(f"{API}/email/bounces", summary="Report an email bounce (webhook)")
async def post_bounce(body: BounceIn, session: DbSession, principal: CurrentPrincipal) -> dict[str, str]:
    principal.require(Perm.CONFIG_WRITE)
    invitation = await _by_message_id(session, principal.tenant_id, body.message_id)
    if body.kind == "soft":
        invitation.last_error = f"soft bounce: {body.diagnostic or ''}"[:2000]
    else:
        invitation.status = BOUNCED
        invitation.last_error = f"{body.kind}: {body.diagnostic or ''}"[:2000]
    if body.kind == "complaint":
        await directory().withdraw(
            session, invitation.tenant_id, invitation.contact_id, "email", source="email_complaint"
        )
    return {"invitation_id": invitation.id, "status": invitation.status}


@router.post(f"{API}/sms/receipts", summary="Report an SMS delivery receipt (webhook)")
async def post_receipt(body: ReceiptIn, session: DbSession, principal: CurrentPrincipal) -> dict[str, str]:
    principal.require(Perm.CONFIG_WRITE)
    invitation = await _by_message_id(session, principal.tenant_id, body.message_id)
    if body.status == "delivered":
        if invitation.status == SENT:
            invitation.status = DELIVERED
        invitation.delivered_at = invitation.delivered_at or now_utc()
    elif invitation.status in (SENT, DELIVERED):
        invitation.status = FAILED
        invitation.last_error = (body.error or body.status)[:2000]
    return {"invitation_id": invitation.id, "status": invitation.status}


@router.post(f"{API}/sms/replies", summary="Report an SMS reply; STOP withdraws consent (webhook)")
async def post_reply(body: StopIn, session: DbSession, principal: CurrentPrincipal) -> dict[str, object]:
    principal.require(Perm.CONFIG_WRITE)
    if not STOP_WORDS.match(body.text):
        return {"stopped": False}
    contact_id = await directory().find(session, principal.tenant_id, "phone", body.phone)
    if contact_id is None:
        raise not_found("contact")
    await directory().withdraw(session, principal.tenant_id, contact_id, "sms", source="sms_stop")
    return {"stopped": True, "contact_id": contact_id}
