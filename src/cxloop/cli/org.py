"""``cxloop tenants`` and ``cxloop units``: the company and its unit tree."""

from __future__ import annotations

import enum
from collections import defaultdict
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cli.common import TenantOption, cli_actor, console, plain, run_async
from cxloop.identity.models import Membership, Tenant, Unit, User
from cxloop.identity.tenants import create_tenant, ensure_tenant, find_tenant
from cxloop.identity.units import create_unit, display_name, get_unit_by_code
from cxloop.kit.db import Database
from cxloop.kit.errors import invalid
from cxloop.kit.settings import Settings

tenants_app = typer.Typer(no_args_is_help=True, help="Tenants: the companies served by this install.")
units_app = typer.Typer(
    no_args_is_help=True, help="Units: the organisation tree (HQ > region > city > store)."
)


class Locale(enum.StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(units_app, name="units")


# --- tenants ----------------------------------------------------------------


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Option(help="Short lower-case id, e.g. freshneighbour.")],
    name: Annotated[str, typer.Option(help="The company's name.")],
    locale: Annotated[Locale, typer.Option(help="Default language of its people.")] = Locale.ZH_CN,
    timezone: Annotated[str, typer.Option(help="IANA time zone of its units.")] = "Asia/Shanghai",
) -> None:
    """Create a tenant."""

    async def work(db: Database, settings: Settings) -> Tenant:
        async with db.session(write=True) as session:
            tenant = await create_tenant(
                session, slug=slug, name=name, default_locale=locale.value, timezone=timezone
            )
            await session.commit()
            return tenant

    tenant = run_async(work)
    typer.echo(f"created tenant {tenant.slug} ({tenant.name})")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants with their unit and user counts."""

    async def work(db: Database, settings: Settings) -> list[tuple[Tenant, int, int]]:
        async with db.session(write=False) as session:
            per_tenant: dict[type[Unit | User], dict[str, int]] = {}
            for model in (Unit, User):
                query = select(model.tenant_id, func.count()).group_by(model.tenant_id)
                per_tenant[model] = {
                    tenant_id: count for tenant_id, count in (await session.execute(query)).all()
                }
            units, users = per_tenant[Unit], per_tenant[User]
            tenants = (await session.execute(select(Tenant).order_by(Tenant.slug))).scalars().all()
            return [(t, units.get(t.id, 0), users.get(t.id, 0)) for t in tenants]

    rows = run_async(work)
    if not rows:
        typer.echo("no tenants yet; `cxloop units create` makes the default one")
        return
    table = Table("slug", "name", "locale", "timezone", "units", "users")
    for tenant, unit_count, user_count in rows:
        table.add_row(
            *plain(
                tenant.slug,
                tenant.name,
                tenant.default_locale,
                tenant.timezone,
                str(unit_count),
                str(user_count),
            )
        )
    console().print(table)


# --- units ------------------------------------------------------------------


@units_app.command("create")
def units_create(
    *,
    code: Annotated[str, typer.Option(help="Unique code, e.g. SH001.")],
    name: Annotated[str, typer.Option(help="Name in Chinese (zh-CN).")],
    name_en: Annotated[str | None, typer.Option("--name-en", help="Name in English.")] = None,
    parent: Annotated[
        str | None, typer.Option(metavar="CODE", help="The parent unit's code (omit for the root).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone (default: the parent's, or the tenant's).")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="The level, e.g. hq, region, city, store.")] = None,
    tenant: TenantOption = None,
) -> None:
    """Create a unit. On a fresh install this also creates the default tenant."""
    names = {"zh-CN": name}
    if name_en is not None:
        names["en"] = name_en

    async def work(db: Database, settings: Settings) -> Unit:
        async with db.session(write=True) as session:
            owner = await ensure_tenant(session, tenant)
            if kind is not None and not kind.strip():
                raise invalid("kind", "A kind cannot be empty.")
            unit = await create_unit(
                session,
                owner,
                code=code,
                names=names,
                parent_code=parent,
                timezone=timezone,
                kind=kind.strip() if kind else None,
                actor=cli_actor(owner.id),
            )
            await session.commit()
            return unit

    unit = run_async(work)
    where = f"under {parent}" if parent else "as the root"
    typer.echo(f"created unit {unit.code} ({display_name(unit.names, 'zh-CN')}) {where}")


@units_app.command("list")
def units_list(
    tenant: TenantOption = None,
    under: Annotated[str | None, typer.Option(metavar="CODE", help="Show only this unit's subtree.")] = None,
    locale: Annotated[
        Locale | None, typer.Option(help="Language shown first (default: the tenant's).")
    ] = None,
) -> None:
    """Show the unit tree."""

    async def work(db: Database, settings: Settings) -> tuple[Tenant, list[Unit], dict[str, int]]:
        async with db.session(write=False) as session:
            owner = await find_tenant(session, tenant)
            query = select(Unit).where(Unit.tenant_id == owner.id)
            if under is not None:
                root = await get_unit_by_code(session, owner.id, under)
                if root is None:
                    raise invalid("under", f"No unit with code {under!r}.", code="unit_not_found")
                query = query.where(Unit.path.startswith(root.path))
            units = (await session.execute(query.order_by(Unit.depth, Unit.code))).scalars().all()
            return owner, list(units), await _people_per_unit(session, owner.id)

    owner, units, people = run_async(work)
    shown_locale = locale.value if locale else owner.default_locale
    tree = Tree(Text(f"{owner.name} ({owner.slug})"))
    if not units:
        tree.add("no units yet")
    children: dict[str | None, list[Unit]] = defaultdict(list)
    ids = {u.id for u in units}
    for unit in units:
        children[unit.parent_id if unit.parent_id in ids else None].append(unit)

    def grow(parent_branch: Tree, parent_id: str | None) -> None:
        for unit in children.get(parent_id, []):
            branch = parent_branch.add(Text(_unit_label(unit, shown_locale, people.get(unit.id, 0))))
            grow(branch, unit.id)

    grow(tree, None)
    console().print(tree)
    typer.echo(f"{len(units)} unit(s)")


def _unit_label(unit: Unit, locale: str, people: int) -> str:
    first = display_name(unit.names, locale)
    others = [text for text in unit.names.values() if text != first]
    label = f"{unit.code}  {' / '.join([first, *others])}"
    extras = [unit.kind] if unit.kind else []
    if people:
        extras.append(f"{people} {'person' if people == 1 else 'people'}")
    return f"{label}  [{', '.join(extras)}]" if extras else label


async def _people_per_unit(session: AsyncSession, tenant_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(Membership.unit_id, func.count())
        .where(Membership.tenant_id == tenant_id, Membership.unit_id.is_not(None))
        .group_by(Membership.unit_id)
    )
    return {unit_id: count for unit_id, count in rows.all() if unit_id is not None}
