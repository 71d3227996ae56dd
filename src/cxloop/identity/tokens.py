"""API tokens: created (shown once), listed, revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Perm, Principal, Role, TokenScope, scopes_for_role
from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.models import ApiToken, Tenant, Unit, User
from cxloop.identity.principals import grants_of
from cxloop.identity.units import get_unit_by_code
from cxloop.kit.clock import as_utc, utc_now
from cxloop.kit.errors import invalid, not_found, refuse_control_characters
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.kit.security import digest, new_token


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def _check_scopes(scopes: list[str] | None, ceiling: list[str]) -> list[str]:
    if scopes is None:
        return list(ceiling)
    cleaned: list[str] = []
    for index, scope in enumerate(scopes):
        try:
            parsed = TokenScope(scope)
        except ValueError as exc:
            raise invalid(f"scopes[{index}]", f"Unknown scope {scope!r}; one of read, write, admin.") from exc
        if parsed not in ceiling:
            raise invalid(
                f"scopes[{index}]",
                f"The scope {scope!r} exceeds what the role allows.",
                code="scope_exceeds_role",
            )
        if parsed not in cleaned:
            cleaned.append(parsed)
    if not cleaned:
        raise invalid("scopes", "A token needs at least one scope.")
    return cleaned


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    # A naive time is taken as UTC; answers show UTC whatever offset came in.
    expires_at = as_utc(expires_at)
    if expires_at <= utc_now():
        raise invalid("expires_at", "The expiry must lie in the future.")
    return expires_at


def _ceiling(roles: set[Role]) -> list[str]:
    scopes: list[str] = []
    for role in sorted(roles):
        for scope in scopes_for_role(role):
            if scope not in scopes:
                scopes.append(scope)
    return scopes


async def create_user_token(
    session: AsyncSession,
    user: User,
    *,
    name: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
    actor: Actor,
) -> IssuedToken:
    if not user.is_active:
        raise invalid("email", "This account is disabled.", code="user_disabled")
    grants = await grants_of(session, user.id)
    scopes = _check_scopes(scopes, _ceiling({g.role for g in grants}))
    return _issue(
        session,
        user.tenant_id,
        name=name,
        kind="user",
        user_id=user.id,
        scopes=scopes,
        role=None,
        unit=None,
        expires_at=_check_expiry(expires_at),
        actor=actor,
    )


async def create_service_token(
    session: AsyncSession,
    tenant: Tenant,
    *,
    name: str,
    role: Role,
    unit_code: str | None,
    scopes: list[str] | None,
    expires_at: datetime | None,
    actor: Actor,
) -> IssuedToken:
    unit: Unit | None = None
    if unit_code is not None:
        unit = await get_unit_by_code(session, tenant.id, unit_code)
        if unit is None:
            raise invalid("unit_code", f"No unit with code {unit_code!r}.", code="unit_not_found")
    elif role not in (Role.ADMIN, Role.CX_MANAGER):
        raise invalid("unit_code", f"A {role.value} service token needs a unit.", code="unit_required")
    scopes = _check_scopes(scopes, scopes_for_role(role))
    return _issue(
        session,
        tenant.id,
        name=name,
        kind="service",
        user_id=None,
        scopes=scopes,
        role=role,
        unit=unit,
        expires_at=_check_expiry(expires_at),
        actor=actor,
    )


def _issue(
    session: AsyncSession,
    tenant_id: str,
    *,
    name: str,
    kind: str,
    user_id: str | None,
    scopes: list[str],
    role: Role | None,
    unit: Unit | None,
    expires_at: datetime | None,
    actor: Actor,
) -> IssuedToken:
    name = name.strip()
    if not name or len(name) > 200:
        raise invalid("name", "A token needs a name of 1 to 200 characters.")
    refuse_control_characters("name", name)
    token_id = new_id()
    secret = new_token(token_id)
    token = ApiToken(
        id=token_id,
        tenant_id=tenant_id,
        user_id=user_id,
        name=name,
        kind=kind,
        scopes=[str(s) for s in scopes],
        service_role=role.value if role else None,
        service_unit_id=unit.id if unit else None,
        token_hash=digest(secret),
        created_by=actor.user_id,
        created_at=utc_now(),
        expires_at=expires_at,
    )
    session.add(token)
    record(
        session,
        actor,
        AuditAction.TOKEN_CREATED,
        target_type="token",
        target_id=token_id,
        details={
            "name": name,
            "kind": kind,
            "scopes": token.scopes,
            "user_id": user_id,
            "role": role.value if role else None,
        },
    )
    return IssuedToken(token, secret)


def _visible_tokens(principal: Principal) -> Select[ApiToken]:
    query = select(ApiToken).where(ApiToken.tenant_id == principal.tenant_id)
    if principal.can(Perm.TOKENS_ALL):
        return query
    if principal.user_id is None:
        # A service token sees itself only; comparing user_id with NULL would match every service token.
        return query.where(ApiToken.id == principal.token_id)
    query = query.where(ApiToken.user_id == principal.user_id)
    return query


async def list_tokens(
    session: AsyncSession, principal: Principal, page: PageRequest, *, include_revoked: bool = False
) -> Page[ApiToken]:
    query = _visible_tokens(principal)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    rows = (await session.execute(apply_keyset(query, ApiToken.id, "tokens", page))).scalars().all()
    return make_page(rows, "tokens", page, lambda t: t.id)


async def get_token(session: AsyncSession, principal: Principal, token_id: str) -> ApiToken:
    token = (
        await session.execute(_visible_tokens(principal).where(ApiToken.id == token_id))
    ).scalar_one_or_none()
    if token is None:
        raise not_found("token")
    return token


async def revoke(session: AsyncSession, token: ApiToken, actor: Actor) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utc_now()
        record(
            session,
            actor,
            AuditAction.TOKEN_REVOKED,
            target_type="token",
            target_id=token.id,
            details={"name": token.name},
        )
        await session.flush()
    return token
