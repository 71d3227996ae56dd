"""Tenant configuration of cases: the root-cause tree, SLA policies per
priority, business calendars per unit (or the whole tenant).

Reading needs ``DATA_READ``; changing needs ``CONFIG_WRITE`` (CX managers and
admins): these are tenant-wide settings.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import BusinessCalendar, RootCause, SlaPolicy
from cxloop.cases.service import now_or
from cxloop.cases.sla import DEFAULT_POLICIES, parse_dates, parse_hours
from cxloop.cases.states import PRIORITIES
from cxloop.identity import Perm, Principal, visible_unit
from cxloop.kit.errors import Conflict, invalid, not_found
from cxloop.kit.ids import new_id

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_ROOT_CAUSES = 500


# --- root causes ------------------------------------------------------------


async def list_root_causes(session: AsyncSession, principal: Principal) -> list[RootCause]:
    principal.require(Perm.DATA_READ)
    rows = await session.execute(
        select(RootCause).where(RootCause.tenant_id == principal.tenant_id).order_by(RootCause.code)
    )
    return list(rows.scalars().all())


def _names(raw: dict[str, str]) -> dict[str, str]:
    names = {tag: text.strip() for tag, text in raw.items() if text.strip()}
    if not names:
        raise invalid("names", "A root cause needs a name in at least one language.")
    return names


async def _root_cause(session: AsyncSession, tenant_id: str, code: str) -> RootCause | None:
    return (
        await session.execute(
            select(RootCause).where(RootCause.tenant_id == tenant_id, RootCause.code == code)
        )
    ).scalar_one_or_none()


async def create_root_cause(
    session: AsyncSession, principal: Principal, code: str, names: dict[str, str], parent_code: str | None
) -> RootCause:
    principal.require(Perm.CONFIG_WRITE)
    if not CODE.match(code):
        raise invalid("code", "A code has 1-64 letters, digits, '.', '_' or '-'.")
    if await _root_cause(session, principal.tenant_id, code) is not None:
        raise Conflict(f"A root cause {code!r} exists already.", code="root_cause_exists")
    if parent_code is not None and await _root_cause(session, principal.tenant_id, parent_code) is None:
        raise invalid("parent_code", f"No root cause {parent_code!r}.", code="unknown_root_cause")
    total = len(await list_root_causes(session, principal))
    if total >= MAX_ROOT_CAUSES:
        raise invalid("code", f"A tenant has at most {MAX_ROOT_CAUSES} root causes.")
    row = RootCause(
        id=new_id(),
        tenant_id=principal.tenant_id,
        code=code,
        parent_code=parent_code,
        names=_names(names),
        active=True,
        created_at=now_or(None),
    )
    session.add(row)
    await session.flush()
    return row


async def update_root_cause(
    session: AsyncSession, principal: Principal, code: str, changes: dict[str, Any]
) -> RootCause:
    principal.require(Perm.CONFIG_WRITE)
    row = await _root_cause(session, principal.tenant_id, code)
    if row is None:
        raise not_found("root cause")
    if changes.get("names") is not None:
        row.names = _names(changes["names"])
    if changes.get("active") is not None:
        row.active = bool(changes["active"])
    if "parent_code" in changes:
        parent = changes["parent_code"]
        if parent is not None:
            # Walk up from the new parent: reaching ``code`` would make a loop.
            seen: str | None = parent
            while seen is not None:
                if seen == code:
                    raise invalid("parent_code", "A root cause cannot sit under itself.")
                above = await _root_cause(session, principal.tenant_id, seen)
                if above is None:
                    raise invalid("parent_code", f"No root cause {parent!r}.", code="unknown_root_cause")
                seen = above.parent_code
        row.parent_code = parent
    await session.flush()
    return row


def root_cause_tree(rows: list[RootCause]) -> list[dict[str, Any]]:
    """Nested ``[{code, names, active, children: [...]}]``, roots first."""
    nodes: dict[str, dict[str, Any]] = {
        row.code: {"code": row.code, "names": row.names, "active": row.active, "children": []} for row in rows
    }
    roots: list[dict[str, Any]] = []
    for row in rows:
        parent = nodes.get(row.parent_code) if row.parent_code else None
        siblings: list[dict[str, Any]] = parent["children"] if parent is not None else roots
        siblings.append(nodes[row.code])
    return roots


# --- SLA policies -----------------------------------------------------------


def policy_view(priority: str, row: SlaPolicy | None) -> dict[str, Any]:
    if row is None:
        ack, resolve, every = DEFAULT_POLICIES[priority]
        return {
            "priority": priority,
            "acknowledge_minutes": ack,
            "resolve_minutes": resolve,
            "escalate_every_minutes": every,
            "business_hours": True,
            "default": True,
        }
    return {
        "priority": priority,
        "acknowledge_minutes": row.acknowledge_minutes,
        "resolve_minutes": row.resolve_minutes,
        "escalate_every_minutes": row.escalate_every_minutes,
        "business_hours": row.business_hours,
        "default": False,
    }


async def list_policies(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Perm.DATA_READ)
    rows = await session.execute(select(SlaPolicy).where(SlaPolicy.tenant_id == principal.tenant_id))
    by_priority = {row.priority: row for row in rows.scalars().all()}
    return [policy_view(priority, by_priority.get(priority)) for priority in PRIORITIES]


async def put_policy(
    session: AsyncSession, principal: Principal, priority: str, body: dict[str, Any]
) -> dict[str, Any]:
    principal.require(Perm.CONFIG_WRITE)
    if priority not in PRIORITIES:
        raise not_found("priority")
    if body["resolve_minutes"] < body["acknowledge_minutes"]:
        raise invalid("resolve_minutes", "Resolving cannot be due before acknowledging.")
    row = (
        await session.execute(
            select(SlaPolicy).where(
                SlaPolicy.tenant_id == principal.tenant_id, SlaPolicy.priority == priority
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = SlaPolicy(id=new_id(), tenant_id=principal.tenant_id, priority=priority)
        session.add(row)
    row.acknowledge_minutes = body["acknowledge_minutes"]
    row.resolve_minutes = body["resolve_minutes"]
    row.escalate_every_minutes = body["escalate_every_minutes"]
    row.business_hours = body["business_hours"]
    row.updated_at = now_or(None)
    await session.flush()
    return policy_view(priority, row)


# --- business calendars -----------------------------------------------------


async def _calendar_unit_id(session: AsyncSession, principal: Principal, unit_code: str | None) -> str | None:
    if unit_code is None:
        return None
    return (await visible_unit(session, principal, unit_code, Perm.DATA_READ)).id


def calendar_view(row: BusinessCalendar, unit_code: str | None) -> dict[str, Any]:
    return {
        "unit_code": unit_code,
        "hours": row.hours,
        "holidays": row.holidays,
        "workdays": row.workdays,
    }


async def get_calendar(session: AsyncSession, principal: Principal, unit_code: str | None) -> dict[str, Any]:
    principal.require(Perm.DATA_READ)
    unit_id = await _calendar_unit_id(session, principal, unit_code)
    row = await _calendar(session, principal.tenant_id, unit_id)
    if row is None:
        raise not_found("calendar")
    return calendar_view(row, unit_code)


async def _calendar(session: AsyncSession, tenant_id: str, unit_id: str | None) -> BusinessCalendar | None:
    query = select(BusinessCalendar).where(BusinessCalendar.tenant_id == tenant_id)
    query = query.where(
        BusinessCalendar.unit_id.is_(None) if unit_id is None else BusinessCalendar.unit_id == unit_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def put_calendar(
    session: AsyncSession, principal: Principal, unit_code: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    principal.require(Perm.CONFIG_WRITE)
    unit_id = await _calendar_unit_id(session, principal, unit_code)
    parse_hours(body["hours"])
    holidays = sorted(d.isoformat() for d in parse_dates(body.get("holidays", []), "holidays"))
    workdays = sorted(d.isoformat() for d in parse_dates(body.get("workdays", []), "workdays"))
    row = await _calendar(session, principal.tenant_id, unit_id)
    if row is None:
        row = BusinessCalendar(id=new_id(), tenant_id=principal.tenant_id, unit_id=unit_id)
        session.add(row)
    row.hours = body["hours"]
    row.holidays = holidays
    row.workdays = workdays
    row.updated_at = now_or(None)
    await session.flush()
    return calendar_view(row, unit_code)
