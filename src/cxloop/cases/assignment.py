"""Who gets a case: by unit and role up the unit tree, round-robin inside a
team, and the chain of managers an escalation climbs.

At the case's unit the agents are the team; with none, its unit managers;
with none either, the same question is asked of the parent unit, and so on
up to the root. Inside a team cases go round-robin, remembered per unit and
role in ``AssignmentCursor`` (so restarts and several workers agree).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import AssignmentCursor
from cxloop.identity import Membership, Role, Unit, User

TEAM_ROLES = (Role.AGENT, Role.UNIT_MANAGER)


def ancestry(unit: Unit) -> list[str]:
    """The unit's id and its ancestors' ids, nearest first."""
    return list(reversed([part for part in unit.path.split("/") if part]))


async def members(session: AsyncSession, tenant_id: str, unit_id: str, role: Role) -> list[str]:
    """Active users holding ``role`` at this unit, in a stable order."""
    rows = await session.execute(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.unit_id == unit_id,
            Membership.role == role.value,
            User.is_active.is_(True),
        )
        .order_by(Membership.user_id)
    )
    return sorted(set(rows.scalars().all()))


async def next_in_team(session: AsyncSession, tenant_id: str, unit_id: str, role: Role) -> str | None:
    team = await members(session, tenant_id, unit_id, role)
    if not team:
        return None
    cursor = await session.get(AssignmentCursor, (tenant_id, unit_id, role.value))
    if cursor is None:
        chosen = team[0]
        session.add(
            AssignmentCursor(tenant_id=tenant_id, unit_id=unit_id, role=role.value, last_user_id=chosen)
        )
        return chosen
    later = [user_id for user_id in team if user_id > cursor.last_user_id]
    chosen = later[0] if later else team[0]
    cursor.last_user_id = chosen
    return chosen


async def pick_owner(session: AsyncSession, tenant_id: str, unit: Unit | None) -> str | None:
    if unit is None:
        return None
    for unit_id in ancestry(unit):
        for role in TEAM_ROLES:
            chosen = await next_in_team(session, tenant_id, unit_id, role)
            if chosen is not None:
                return chosen
    return None


async def manager_chain(session: AsyncSession, tenant_id: str, unit: Unit | None) -> list[str]:
    """Managers to escalate to, nearest unit first, then the CX managers.

    One person per unit up the tree (the first unit manager by id), so each
    escalation level reaches somebody new.
    """
    chain: list[str] = []
    if unit is not None:
        for unit_id in ancestry(unit):
            for user_id in await members(session, tenant_id, unit_id, Role.UNIT_MANAGER):
                if user_id not in chain:
                    chain.append(user_id)
                    break
    rows = await session.execute(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.role == Role.CX_MANAGER.value,
            User.is_active.is_(True),
        )
        .order_by(Membership.user_id)
    )
    for user_id in rows.scalars().all():
        if user_id not in chain:
            chain.append(user_id)
            break
    return chain
