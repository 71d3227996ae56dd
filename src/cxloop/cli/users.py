"""``cxloop users``: accounts, their role at a unit, enabling and disabling."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cli.common import TenantOption, cli_actor, console, fail, operator, plain, run_async
from cxloop.identity.access import TENANT_WIDE_ROLES, Role
from cxloop.identity.models import Tenant, User
from cxloop.identity.tenants import ensure_tenant, find_tenant
from cxloop.identity.users import (
    UserView,
    create_user,
    list_users,
    normalise_email,
    set_active,
    update_user,
    user_by_email,
)
from cxloop.kit.db import Database
from cxloop.kit.errors import not_found
from cxloop.kit.pagination import MAX_LIMIT, PageRequest
from cxloop.kit.settings import Settings

users_app = typer.Typer(no_args_is_help=True, help="People: accounts and their roles.")

RoleOption = Annotated[
    Role, typer.Option(case_sensitive=False, help="admin, cx_manager, unit_manager, agent, analyst.")
]
UnitOption = Annotated[
    str | None,
    typer.Option(
        "--unit", metavar="CODE", help="The unit the role applies to (not needed for admin, cx_manager)."
    ),
]
EmailOption = Annotated[str, typer.Option(help="The account's email address.")]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    *,
    email: EmailOption,
    role: RoleOption,
    unit: UnitOption = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="CXLOOP_PASSWORD",
            show_envvar=True,
            help="At least 10 characters. Prefer the variable or the prompt: options show up in `ps`.",
        ),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password login; the account uses API tokens only.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Display name (default: the part before @).")] = None,
    locale: Annotated[
        str | None, typer.Option(help="Language: zh-CN, zh-TW or en (default: the tenant's).")
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Create an account with one role, at a unit unless the role is tenant-wide."""
    if no_password and password is not None:
        fail("give either --password (or CXLOOP_PASSWORD) or --no-password, not both", 2)
    if not no_password and password is None:
        if not interactive():
            fail("give a password with --password or CXLOOP_PASSWORD (or run interactively to be asked)", 2)
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(db: Database, settings: Settings) -> UserView:
        async with db.session(write=True) as session:
            owner = await ensure_tenant(session, tenant)
            view = await create_user(
                session,
                owner,
                email=email,
                name=name,
                password=password,
                role=role.value,
                unit_code=unit,
                locale=locale,
                actor=cli_actor(owner.id),
            )
            await session.commit()
            return view

    view = run_async(work)
    typer.echo(f"created user {view.user.email} ({_roles(view)})")


@users_app.command("list")
def users_list(
    tenant: TenantOption = None,
    active_only: Annotated[bool, typer.Option("--active", help="Leave out disabled accounts.")] = False,
) -> None:
    """List accounts with their role, unit and state."""

    async def work(db: Database, settings: Settings) -> list[UserView]:
        async with db.session(write=False) as session:
            owner = await find_tenant(session, tenant)
            views: list[UserView] = []
            cursor: str | None = None
            while True:
                page = await list_users(
                    session,
                    operator(owner.id),
                    PageRequest(MAX_LIMIT, cursor),
                    include_disabled=not active_only,
                )
                views += page.items
                if page.next_cursor is None:
                    return views
                cursor = page.next_cursor

    views = run_async(work)
    table = Table("email", "name", "role", "unit", "state", "locale", "created")
    for view in sorted(views, key=lambda v: v.user.email):
        user = view.user
        roles = ", ".join(m.role for m, _ in view.memberships)
        units = ", ".join(u.code for _, u in view.memberships if u is not None)
        table.add_row(
            *plain(
                user.email,
                user.name,
                roles,
                units or "(all)",
                "active" if user.is_active else "disabled",
                user.locale or "",
                user.created_at.strftime("%Y-%m-%d"),
            )
        )
    console().print(table)
    typer.echo(f"{len(views)} user(s)")


@users_app.command("disable")
def users_disable(email: EmailOption, tenant: TenantOption = None) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    _set_active(email, tenant, active=False)
    typer.echo(f"disabled {email.strip().lower()}")


@users_app.command("enable")
def users_enable(email: EmailOption, tenant: TenantOption = None) -> None:
    """Enable a disabled account again."""
    _set_active(email, tenant, active=True)
    typer.echo(f"enabled {email.strip().lower()}")


@users_app.command("set-role")
def users_set_role(
    email: EmailOption,
    role: RoleOption,
    unit: UnitOption = None,
    tenant: TenantOption = None,
) -> None:
    """Replace an account's role (and unit). Without --unit a unit-bound role keeps its unit."""

    async def work(db: Database, settings: Settings) -> UserView:
        async with db.session(write=True) as session:
            user = await find_user(session, email, tenant)
            # A tenant-wide role covers everything, so an old unit would only mislead.
            change_unit = unit is not None or role in TENANT_WIDE_ROLES
            view = await update_user(
                session,
                operator(user.tenant_id),
                user.id,
                role=role.value,
                unit_code=unit,
                change_unit=change_unit,
            )
            await session.commit()
            return view

    view = run_async(work)
    typer.echo(f"{view.user.email} is now {_roles(view)}")


def _set_active(email: str, tenant: str | None, *, active: bool) -> None:
    async def work(db: Database, settings: Settings) -> None:
        async with db.session(write=True) as session:
            user = await find_user(session, email, tenant)
            await set_active(session, None, user, active, cli_actor(user.tenant_id))
            await session.commit()

    run_async(work)


def interactive() -> bool:
    return sys.stdin.isatty()


async def find_user(session: AsyncSession, email: str, tenant_slug: str | None) -> User:
    """The account by email (unique across the install), within --tenant if given."""
    user = await user_by_email(session, normalise_email(email))
    owner: Tenant | None = await find_tenant(session, tenant_slug) if tenant_slug else None
    if user is None or (owner is not None and user.tenant_id != owner.id):
        raise not_found("user")
    return user


def _roles(view: UserView) -> str:
    return ", ".join(f"{m.role} at {u.code}" if u else m.role for m, u in view.memberships)
