"""Turning credentials (a bearer token or a session cookie) into a Principal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Grant, Principal, Role
from cxloop.identity.models import ApiToken, Membership, Unit, User, UserSession
from cxloop.kit.clock import utc_now
from cxloop.kit.security import digest, same, split_token

# Writing last_used_at on every request would turn reads into writes; once a
# minute is enough to answer "is this token still in use?".
_TOUCH_EVERY = timedelta(minutes=1)


async def grants_of(session: AsyncSession, user_id: str) -> tuple[Grant, ...]:
    rows = (
        await session.execute(
            select(Membership.role, Unit.id, Unit.path, Unit.code)
            .select_from(Membership)
            .outerjoin(Unit, Unit.id == Membership.unit_id)
            .where(Membership.user_id == user_id)
        )
    ).all()
    return tuple(Grant(Role(role), unit_id, path, code) for role, unit_id, path, code in rows)


def user_principal(
    user: User, grants: tuple[Grant, ...], *, token: ApiToken | None = None, ip: str | None = None
) -> Principal:
    return Principal(
        tenant_id=user.tenant_id,
        kind="user",
        user_id=user.id,
        token_id=token.id if token else None,
        label=user.email,
        name=user.name,
        locale=user.locale,
        grants=grants,
        token_scopes=frozenset(token.scopes) if token else None,
        ip=ip,
    )


async def principal_from_token(session: AsyncSession, raw: str, *, ip: str | None = None) -> Principal | None:
    token_id = split_token(raw)
    if token_id is None or len(token_id) > 26:
        return None
    token = await session.get(ApiToken, token_id)
    now = utc_now()
    if (
        token is None
        or not same(token.token_hash, digest(raw))
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        return None
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        session.info[TOUCH_TOKEN_KEY] = token.id
    if token.kind == "service":
        unit = await session.get(Unit, token.service_unit_id) if token.service_unit_id else None
        role = Role(token.service_role or Role.ANALYST)
        grant = Grant(role, unit.id if unit else None, unit.path if unit else None, unit.code if unit else None)
        return Principal(
            tenant_id=token.tenant_id, kind="service", user_id=None, token_id=token.id,
            label=f"service:{token.name}", name=token.name, locale=None, grants=(grant,),
            token_scopes=frozenset(token.scopes), ip=ip,
        )
    user = await session.get(User, token.user_id) if token.user_id else None
    if user is None or not user.is_active:
        return None
    return user_principal(user, await grants_of(session, user.id), token=token, ip=ip)


TOUCH_TOKEN_KEY = "cxloop_touch_token"


async def touch_token(session: AsyncSession, token_id: str) -> None:
    """Stamp last use; run by the boundary in its own short write transaction."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utc_now()))


async def principal_from_session(session: AsyncSession, secret: str, *, ip: str | None = None) -> Principal | None:
    if not secret or len(secret) > 200:
        return None
    row = await session.get(UserSession, digest(secret))
    if row is None or row.expires_at <= utc_now():
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return user_principal(user, await grants_of(session, user.id), ip=ip)
