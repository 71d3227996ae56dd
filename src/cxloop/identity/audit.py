"""The audit trail of security-relevant actions (append-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Perm, Principal
from cxloop.identity.models import AuditEvent
from cxloop.kit.clock import utc_now
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page


class AuditAction:
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_THROTTLED = "login.throttled"
    LOGOUT = "logout"
    TOKEN_CREATED = "token.created"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an event name, not a secret
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    ROLE_CHANGED = "role.changed"
    UNIT_CREATED = "unit.created"
    UNIT_UPDATED = "unit.updated"
    DATA_EXPORTED = "data.exported"
    RESPONSE_EDITED = "response.edited"


@dataclass(frozen=True)
class Actor:
    """Who did it, as far as is known (a failed login has no user)."""

    tenant_id: str | None
    user_id: str | None = None
    token_id: str | None = None
    label: str | None = None
    ip: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.tenant_id, principal.user_id, principal.token_id, principal.label, principal.ip)


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        id=new_id(),
        tenant_id=actor.tenant_id,
        occurred_at=utc_now(),
        action=action,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        actor_label=actor.label,
        target_type=target_type,
        target_id=target_id,
        ip=actor.ip,
        details=details or {},
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    action: str | None = None,
    actor_user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEvent]:
    principal.require(Perm.AUDIT_READ)
    query = select(AuditEvent).where(AuditEvent.tenant_id == principal.tenant_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_user_id:
        query = query.where(AuditEvent.actor_user_id == actor_user_id)
    if since:
        query = query.where(AuditEvent.occurred_at >= since)
    if until:
        query = query.where(AuditEvent.occurred_at < until)
    rows = (
        (await session.execute(apply_keyset(query, AuditEvent.id, "audit", page, descending=True)))
        .scalars()
        .all()
    )
    return make_page(rows, "audit", page, lambda e: e.id)
