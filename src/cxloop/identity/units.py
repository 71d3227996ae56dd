"""The unit tree: creation, lookup and listing within the caller's reach."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Perm, Principal, Reach
from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.models import Tenant, Unit
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page

UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
LOCALE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_DEPTH = 12


def check_timezone(value: str, path: str = "timezone") -> str:
    if value not in _timezones():
        raise invalid(path, f"Unknown time zone {value!r}; use an IANA name such as Asia/Shanghai.")
    return value


_TZ_CACHE: set[str] = set()


def _timezones() -> set[str]:
    if not _TZ_CACHE:
        _TZ_CACHE.update(available_timezones())
        _TZ_CACHE.add("UTC")
    return _TZ_CACHE


def check_names(names: dict[str, str], path: str = "name") -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for tag, given in names.items():
        if not LOCALE_TAG.match(tag):
            raise invalid(f"{path}.{tag}", f"{tag!r} is not a language tag such as zh-CN or en.")
        text = given.strip()
        if not text or len(text) > 200:
            raise invalid(f"{path}.{tag}", "A name needs 1 to 200 characters.")
        if not text.isprintable():
            # NUL cannot be stored in PostgreSQL; other control characters break exports and pages.
            raise invalid(f"{path}.{tag}", "A name may not contain control characters.")
        cleaned[tag] = text
    if not cleaned:
        raise invalid(path, "A unit needs a name in at least one language.")
    return cleaned


def display_name(names: dict[str, str], locale: str | None, fallback_locale: str = "zh-CN") -> str:
    for tag in (locale, fallback_locale, "en"):
        if tag and tag in names:
            return names[tag]
    if locale:
        base = locale.split("-")[0]
        for tag, text in names.items():
            if tag.split("-")[0] == base:
                return text
    return next(iter(names.values()))


async def get_unit_by_code(session: AsyncSession, tenant_id: str, code: str) -> Unit | None:
    return (
        await session.execute(select(Unit).where(Unit.tenant_id == tenant_id, Unit.code == code))
    ).scalar_one_or_none()


async def get_unit_by_id(session: AsyncSession, tenant_id: str, unit_id: str) -> Unit | None:
    return (
        await session.execute(select(Unit).where(Unit.tenant_id == tenant_id, Unit.id == unit_id))
    ).scalar_one_or_none()


async def visible_unit(session: AsyncSession, principal: Principal, code: str, perm: Perm) -> Unit:
    """The unit if the caller's reach for ``perm`` covers it; 404 otherwise."""
    unit = await get_unit_by_code(session, principal.tenant_id, code)
    if unit is None or not principal.reach(perm).covers(unit.id, unit.path):
        raise not_found("unit")
    return unit


async def create_unit(
    session: AsyncSession,
    tenant: Tenant,
    *,
    code: str,
    names: dict[str, str],
    parent_code: str | None,
    timezone: str | None = None,
    kind: str | None = None,
    actor: Actor,
    reach: Reach | None = None,
) -> Unit:
    """Create a unit under ``parent_code`` (or the root when there is none).

    ``reach`` limits where the caller may add units; None means anywhere
    (the CLI acts as the operator).
    """
    if not UNIT_CODE.match(code):
        raise invalid(
            "code", "A code has 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    names = check_names(names)
    if await get_unit_by_code(session, tenant.id, code) is not None:
        raise Conflict(f"A unit with code {code!r} already exists.", code="unit_code_taken")
    parent: Unit | None = None
    if parent_code is not None:
        parent = await get_unit_by_code(session, tenant.id, parent_code)
        if parent is None or (reach is not None and not reach.covers(parent.id, parent.path)):
            raise invalid("parent_code", f"No unit with code {parent_code!r}.", code="parent_not_found")
        if parent.depth + 1 >= MAX_DEPTH:
            raise invalid("parent_code", f"Units nest at most {MAX_DEPTH} levels deep.")
    else:
        if reach is not None and not reach.everywhere:
            raise invalid("parent_code", "Give the parent unit; only tenant-wide roles create the root.")
        roots = await session.scalar(
            select(func.count())
            .select_from(Unit)
            .where(Unit.tenant_id == tenant.id, Unit.parent_id.is_(None))
        )
        if roots:
            raise invalid(
                "parent_code",
                "The organisation already has a root unit; give the parent's code.",
                code="root_exists",
            )
    unit_id = new_id()
    unit = Unit(
        id=unit_id,
        tenant_id=tenant.id,
        parent_id=parent.id if parent else None,
        code=code,
        names=names,
        kind=kind,
        timezone=check_timezone(timezone) if timezone else (parent.timezone if parent else tenant.timezone),
        path=f"{parent.path if parent else '/'}{unit_id}/",
        depth=(parent.depth + 1) if parent else 0,
        created_at=utc_now(),
    )
    session.add(unit)
    record(
        session,
        actor,
        AuditAction.UNIT_CREATED,
        target_type="unit",
        target_id=unit_id,
        details={"code": code, "parent_code": parent_code},
    )
    await session.flush()
    return unit


async def list_units(
    session: AsyncSession, principal: Principal, page: PageRequest, *, under: str | None = None
) -> Page[Unit]:
    reach = principal.reach(Perm.UNITS_READ)
    query = select(Unit).where(Unit.tenant_id == principal.tenant_id, reach.unit_clause(Unit.id, Unit.path))
    if under is not None:
        root = await visible_unit(session, principal, under, Perm.UNITS_READ)
        query = query.where(Unit.path.startswith(root.path))
    rows = (await session.execute(apply_keyset(query, Unit.id, "units", page))).scalars().all()
    return make_page(rows, "units", page, lambda u: u.id)


async def codes_by_id(session: AsyncSession, unit_ids: set[str]) -> dict[str, Unit]:
    if not unit_ids:
        return {}
    rows = (await session.execute(select(Unit).where(Unit.id.in_(unit_ids)))).scalars().all()
    return {u.id: u for u in rows}
