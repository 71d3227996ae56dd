"""Saved dashboards: create, list, read, update, delete, share within scope.

Who sees a dashboard: its owner, and, when it is shared, the people whose
grants lie inside its share unit's subtree (everyone in the tenant for a
tenant-wide share; tenant-wide people see every shared dashboard). Anything
else answers the same 404 as a missing id. Only the owner edits or deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.dashboards.defaults import ROLE_NAMES, default_definition
from cxloop.dashboards.models import Dashboard
from cxloop.dashboards.schemas import (
    DashboardCreate,
    DashboardDefinition,
    DashboardOut,
    DashboardUpdate,
    RoleDefault,
)
from cxloop.identity import Perm, Principal, Unit, visible_unit
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, Forbidden, invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page

DEFAULT_ID = "default"


@dataclass(frozen=True)
class DashboardView:
    """A saved dashboard, or a role default (``row`` is None), as the viewer sees it."""

    id: str
    name: str
    definition: DashboardDefinition
    row: Dashboard | None
    share_unit_code: str | None
    owned: bool
    role_default: RoleDefault | None = None

    def out(self) -> DashboardOut:
        row = self.row
        return DashboardOut(
            id=self.id,
            name=self.name,
            role_default=self.role_default,
            owner_id=row.owner_id if row else None,
            owned=self.owned,
            shared=row.shared if row else False,
            share_unit_code=self.share_unit_code,
            revision=row.revision if row else 1,
            definition=self.definition.model_dump(mode="json", exclude_none=True),
            created_at=row.created_at if row else None,
            updated_at=row.updated_at if row else None,
        )


def _visible_clause(principal: Principal) -> ColumnElement[bool]:
    mine = Dashboard.owner_id == principal.user_id if principal.user_id else false()
    if any(g.tenant_wide for g in principal.grants):
        return or_(mine, Dashboard.shared.is_(True))
    # A share is visible from inside its unit's subtree: the viewer's unit path starts with it.
    inside: list[ColumnElement[bool]] = [Dashboard.share_unit_id.is_(None)]
    for grant in principal.grants:
        if grant.unit_path:
            inside.append(literal(grant.unit_path).startswith(Unit.path))
    return or_(mine, (Dashboard.shared.is_(True)) & or_(*inside))


def _select_visible(principal: Principal) -> Any:
    return (
        select(Dashboard, Unit.code)
        .outerjoin(Unit, Unit.id == Dashboard.share_unit_id)
        .where(Dashboard.tenant_id == principal.tenant_id, _visible_clause(principal))
    )


def _name_for(names: dict[str, str], locale: str | None) -> str:
    return names.get(locale or "", names.get("en", next(iter(names.values()))))


async def role_default(
    session: AsyncSession, principal: Principal, role: RoleDefault | None = None, locale: str | None = None
) -> DashboardView:
    principal.require(Perm.DATA_READ)
    chosen, definition = await default_definition(session, principal, role)
    return DashboardView(
        id=DEFAULT_ID,
        name=_name_for(ROLE_NAMES[chosen], locale or principal.locale),
        definition=definition,
        row=None,
        share_unit_code=None,
        owned=False,
        role_default=chosen,
    )


def _view(principal: Principal, row: Dashboard, unit_code: str | None) -> DashboardView:
    return DashboardView(
        id=row.id,
        name=row.name,
        definition=DashboardDefinition.model_validate(row.definition),
        row=row,
        share_unit_code=unit_code,
        owned=row.owner_id == principal.user_id,
    )


async def get_dashboard(session: AsyncSession, principal: Principal, dashboard_id: str) -> DashboardView:
    principal.require(Perm.DATA_READ)
    if len(dashboard_id) > 26:
        raise not_found("dashboard")
    found = (await session.execute(_select_visible(principal).where(Dashboard.id == dashboard_id))).first()
    if found is None:
        raise not_found("dashboard")
    return _view(principal, found[0], found[1])


async def list_dashboards(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[DashboardView]:
    principal.require(Perm.DATA_READ)
    statement = apply_keyset(_select_visible(principal), Dashboard.id, "dashboards", page)
    rows = (await session.execute(statement)).all()
    views = [_view(principal, row, code) for row, code in rows]
    return make_page(views, "dashboards", page, lambda v: v.id)


async def latest_own(session: AsyncSession, principal: Principal) -> DashboardView | None:
    """The viewer's most recently saved dashboard: what /dashboards opens."""
    if principal.user_id is None:
        return None
    found = (
        await session.execute(
            _select_visible(principal)
            .where(Dashboard.owner_id == principal.user_id)
            .order_by(Dashboard.updated_at.desc(), Dashboard.id.desc())
            .limit(1)
        )
    ).first()
    return _view(principal, found[0], found[1]) if found else None


def _require_user(principal: Principal) -> str:
    principal.require(Perm.DATA_READ)
    if principal.user_id is None:
        raise Forbidden(
            "Dashboards belong to people; a service token cannot own one.", code="permission_denied"
        )
    principal.require_writing_token()
    return principal.user_id


async def _share_unit(
    session: AsyncSession, principal: Principal, code: str | None
) -> tuple[str | None, str | None]:
    """The unit a share is visible in: one within the sharer's scope, or their own unit."""
    if code is not None:
        unit = await visible_unit(session, principal, code, Perm.DATA_READ)
        return unit.id, unit.code
    if principal.reach(Perm.DATA_READ).everywhere:
        return None, None
    grant = min(
        (g for g in principal.grants if g.unit_id and g.unit_path), key=lambda g: len(g.unit_path or "")
    )
    return grant.unit_id, grant.unit_code


async def create_dashboard(
    session: AsyncSession, principal: Principal, body: DashboardCreate
) -> DashboardView:
    owner_id = _require_user(principal)
    unit_id, unit_code = (None, None)
    if body.shared or body.share_unit_code is not None:
        unit_id, unit_code = await _share_unit(session, principal, body.share_unit_code)
    now = utc_now()
    row = Dashboard(
        id=new_id(),
        tenant_id=principal.tenant_id,
        owner_id=owner_id,
        name=body.name,
        definition=body.definition.model_dump(mode="json", exclude_none=True),
        shared=body.shared,
        share_unit_id=unit_id,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return _view(principal, row, unit_code)


async def _owned(session: AsyncSession, principal: Principal, dashboard_id: str) -> DashboardView:
    _require_user(principal)
    view = await get_dashboard(session, principal, dashboard_id)
    if not view.owned:
        raise Forbidden("Only the owner changes a dashboard; save a copy to change it.", code="not_owner")
    return view


async def update_dashboard(
    session: AsyncSession, principal: Principal, dashboard_id: str, body: DashboardUpdate
) -> DashboardView:
    view = await _owned(session, principal, dashboard_id)
    row = view.row
    assert row is not None
    if body.revision is not None and body.revision != row.revision:
        raise Conflict(
            f"The dashboard was saved by someone else (revision {row.revision}); reload it.",
            code="dashboard_revision_conflict",
        )
    unit_code = view.share_unit_code
    if body.name is not None:
        row.name = body.name
    if body.definition is not None:
        row.definition = body.definition.model_dump(mode="json", exclude_none=True)
    if body.shared is not None:
        row.shared = body.shared
    if body.share_unit_code is not None or (body.shared and row.share_unit_id is None and unit_code is None):
        row.share_unit_id, unit_code = await _share_unit(session, principal, body.share_unit_code)
    row.revision += 1
    row.updated_at = utc_now()
    await session.flush()
    return _view(principal, row, unit_code)


async def delete_dashboard(session: AsyncSession, principal: Principal, dashboard_id: str) -> None:
    view = await _owned(session, principal, dashboard_id)
    await session.delete(view.row)
    await session.flush()


async def resolve(
    session: AsyncSession,
    principal: Principal,
    dashboard_id: str,
    role: str | None = None,
    locale: str | None = None,
) -> DashboardView:
    """A saved dashboard by id, or the role default for ``default``."""
    if dashboard_id == DEFAULT_ID:
        if role is not None and role not in ROLE_NAMES:
            raise invalid("role", f"Unknown role default; use one of {', '.join(ROLE_NAMES)}.")
        return await role_default(session, principal, role, locale)  # type: ignore[arg-type]
    return await get_dashboard(session, principal, dashboard_id)


__all__ = [
    "DEFAULT_ID",
    "DashboardView",
    "create_dashboard",
    "delete_dashboard",
    "get_dashboard",
    "latest_own",
    "list_dashboards",
    "resolve",
    "role_default",
    "update_dashboard",
]
