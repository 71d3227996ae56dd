"""Changing an existing unit: its names per language (the code, place in
the tree and time zone stay, since scopes and schedules hang on them)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Perm, Principal
from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.models import Unit
from cxloop.identity.units import check_names, visible_unit


async def rename_unit(session: AsyncSession, principal: Principal, code: str, names: dict[str, str]) -> Unit:
    """Replace the unit's names; a unit out of the caller's write reach is not found."""
    principal.require(Perm.UNITS_WRITE)
    principal.require_writing_token()
    unit = await visible_unit(session, principal, code, Perm.UNITS_WRITE)
    cleaned = check_names(names)
    before = dict(unit.names)
    if cleaned == before:
        return unit
    unit.names = cleaned
    record(
        session,
        Actor.of(principal),
        AuditAction.UNIT_UPDATED,
        target_type="unit",
        target_id=unit.id,
        details={"code": unit.code, "before": before, "after": cleaned},
    )
    await session.flush()
    return unit
