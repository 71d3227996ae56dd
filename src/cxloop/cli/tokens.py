"""``cxloop tokens``: API tokens for a person or a service, shown once."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from cxloop.cli.common import TenantOption, cli_actor, console, fail, operator, plain, run_async
from cxloop.cli.users import find_user
from cxloop.identity.access import Role, TokenScope
from cxloop.identity.models import ApiToken, Unit, User
from cxloop.identity.tenants import find_tenant
from cxloop.identity.tokens import IssuedToken, create_service_token, create_user_token, get_token, revoke
from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database
from cxloop.kit.errors import not_found
from cxloop.kit.security import split_token
from cxloop.kit.settings import Settings

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens: create (shown once), list, revoke.")

MAX_EXPIRY_DAYS = 3650


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def tokens_create(
    *,
    email: Annotated[str | None, typer.Option(help="The person the token acts as.")] = None,
    service: Annotated[
        str | None, typer.Option(metavar="NAME", help="Make a service token with this name instead.")
    ] = None,
    role: Annotated[
        Role | None, typer.Option(case_sensitive=False, help="The service token's role (with --service).")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", metavar="CODE", help="The service token's unit (with --service).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="What the token is for (default: cli).")] = None,
    scope: Annotated[
        list[TokenScope] | None,
        typer.Option(
            "--scope",
            case_sensitive=False,
            help="read, write or admin; repeat for several (default: all the role allows).",
        ),
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_EXPIRY_DAYS, help="Expire after this many days (default: never)."),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Create a token. The token alone is the last line of the output; it is not shown again."""
    if (email is None) == (service is None):
        fail("give either --email (a person's token) or --service NAME (a service token)", 2)
    if service is None and (role is not None or unit is not None):
        fail("--role and --unit are for service tokens; a person's token acts with the person's role", 2)
    if service is not None and role is None:
        fail("a service token needs --role", 2)
    scopes = [s.value for s in scope] if scope else None
    expires_at = utc_now() + timedelta(days=expires_days) if expires_days else None

    async def work(db: Database, settings: Settings) -> tuple[IssuedToken, str]:
        async with db.session(write=True) as session:
            if email is not None:
                user = await find_user(session, email, tenant)
                issued = await create_user_token(
                    session,
                    user,
                    name=name or "cli",
                    scopes=scopes,
                    expires_at=expires_at,
                    actor=cli_actor(user.tenant_id),
                )
                holder = user.email
            else:
                assert service is not None and role is not None
                owner = await find_tenant(session, tenant)
                issued = await create_service_token(
                    session,
                    owner,
                    name=name or service,
                    role=role,
                    unit_code=unit,
                    scopes=scopes,
                    expires_at=expires_at,
                    actor=cli_actor(owner.id),
                )
                holder = f"service {service} ({role.value}{f' at {unit}' if unit else ''})"
            await session.commit()
            return issued, holder

    issued, holder = run_async(work)
    token = issued.token
    expiry = token.expires_at.strftime("%Y-%m-%d %H:%M UTC") if token.expires_at else "never"
    typer.echo(
        f"token {token.id} for {holder}; scopes {', '.join(token.scopes)}; expires {expiry}.\n"
        "Store it now: it is shown only this once.",
        err=True,
    )
    typer.echo(issued.secret)


@tokens_app.command("list")
def tokens_list(
    email: Annotated[str | None, typer.Option(help="Only this person's tokens.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    tenant: TenantOption = None,
) -> None:
    """List tokens (never their secrets)."""

    async def work(db: Database, settings: Settings) -> list[tuple[ApiToken, str | None, str | None]]:
        async with db.session(write=False) as session:
            if email is not None:
                user = await find_user(session, email, tenant)
                tenant_id = user.tenant_id
            else:
                tenant_id = (await find_tenant(session, tenant)).id
            query = (
                select(ApiToken, User.email, Unit.code)
                .outerjoin(User, User.id == ApiToken.user_id)
                .outerjoin(Unit, Unit.id == ApiToken.service_unit_id)
                .where(ApiToken.tenant_id == tenant_id)
                .order_by(ApiToken.id)
            )
            if email is not None:
                query = query.where(ApiToken.user_id == user.id)
            if not include_revoked:
                query = query.where(ApiToken.revoked_at.is_(None))
            return [(t, e, c) for t, e, c in (await session.execute(query)).all()]

    rows = run_async(work)
    table = Table("id", "name", "holder", "scopes", "created", "expires", "last used", "state")
    now = utc_now()
    for token, user_email, unit_code in rows:
        holder = user_email or f"service: {token.service_role}{f' at {unit_code}' if unit_code else ''}"
        if token.revoked_at is not None:
            state = "revoked"
        elif token.expires_at is not None and token.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        table.add_row(
            *plain(
                token.id,
                token.name,
                holder,
                ", ".join(token.scopes),
                token.created_at.date().isoformat(),
                token.expires_at.date().isoformat() if token.expires_at else "never",
                token.last_used_at.strftime("%Y-%m-%d %H:%M") if token.last_used_at else "",
                state,
            )
        )
    console().print(table)
    typer.echo(f"{len(rows)} token(s)")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[
        str, typer.Argument(metavar="TOKEN_ID", help="The token's id (or the token itself).")
    ],
    tenant: TenantOption = None,
) -> None:
    """Revoke a token; it stops working at once."""
    wanted = split_token(token_id) or token_id.strip()

    async def work(db: Database, settings: Settings) -> ApiToken:
        async with db.session(write=True) as session:
            # Token ids are unique across the install; --tenant only narrows.
            found = await session.get(ApiToken, wanted) if len(wanted) <= 26 else None
            tenant_id = (
                (await find_tenant(session, tenant)).id if tenant else found.tenant_id if found else None
            )
            if tenant_id is None:
                raise not_found("token")
            token = await get_token(session, operator(tenant_id), wanted)
            already = token.revoked_at is not None
            await revoke(session, token, cli_actor(tenant_id))
            await session.commit()
            if already:
                typer.echo(f"token {token.id} was already revoked", err=True)
            return token

    token = run_async(work)
    typer.echo(f"revoked token {token.id} ({token.name})")
