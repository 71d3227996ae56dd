"""Tenants: the company that owns every other row."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.models import Tenant
from cxloop.identity.units import check_timezone
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, NotFound, invalid
from cxloop.kit.ids import new_id

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_SLUG = "default"


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    return tenant


async def find_tenant(session: AsyncSession, slug: str | None) -> Tenant:
    """The tenant by slug, or the only one when no slug is given."""
    if slug:
        tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
        if tenant is None:
            raise NotFound(f"No tenant {slug!r}.", code="tenant_not_found")
        return tenant
    tenants = (await session.execute(select(Tenant).limit(2))).scalars().all()
    if len(tenants) == 1:
        return tenants[0]
    if not tenants:
        raise NotFound("There is no tenant yet.", code="tenant_not_found")
    raise Conflict("Several tenants exist; say which with --tenant.", code="tenant_ambiguous")


async def create_tenant(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    default_locale: str = "zh-CN",
    timezone: str = "Asia/Shanghai",
) -> Tenant:
    if not SLUG.match(slug):
        raise invalid("slug", "A slug has 1-63 lower-case letters, digits or '-'.")
    if not name.strip():
        raise invalid("name", "A tenant needs a name.")
    if (await session.execute(select(Tenant.id).where(Tenant.slug == slug))).first():
        raise Conflict(f"Tenant {slug!r} exists already.", code="tenant_exists")
    tenant = Tenant(
        id=new_id(),
        slug=slug,
        name=name.strip(),
        default_locale=default_locale,
        timezone=check_timezone(timezone),
        created_at=utc_now(),
    )
    session.add(tenant)
    await session.flush()
    return tenant


async def ensure_tenant(session: AsyncSession, slug: str | None, *, name: str = "cxloop") -> Tenant:
    """The named (or only) tenant, creating the default one on a fresh install."""
    try:
        return await find_tenant(session, slug)
    except NotFound:
        if slug not in (None, DEFAULT_SLUG):
            raise
        return await create_tenant(session, slug=DEFAULT_SLUG, name=name)
