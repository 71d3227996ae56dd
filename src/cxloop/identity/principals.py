"""Turning credentials (a bearer token or a session cookie) into a Principal.

Verified principals are cached per process, keyed by the SHA-256 of the
credential. Database triggers bump the tenant's ``auth_version`` on every
change that can alter what an existing credential may do (revocation,
expiry, disabling, role or unit change, logout), whoever makes it. A
ChangeWatcher tells each process cheaply when that may have happened
(SQLite's data_version, PostgreSQL's NOTIFY); only then, or when the watcher
cannot tell, is the version re-read. So a revocation takes effect on the next
request in every web process, while the common request loads nothing
(see docs/adr/0006).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import Grant, Principal, Role, TokenInfo
from cxloop.identity.models import ApiToken, Membership, Tenant, Unit, User, UserSession
from cxloop.kit.clock import utc_now
from cxloop.kit.invalidation import UNKNOWN, ChangeWatcher
from cxloop.kit.security import digest, split_token

# Writing last_used_at on every request would turn reads into writes; once a
# minute is enough to answer "is this token still in use?".
_TOUCH_EVERY = timedelta(minutes=1)
_CACHE_SIZE = 10_000


AUTH_CHANNEL = "cxloop_auth"
WATCHED_AUTH_STATE = "SELECT id, auth_version FROM tenants ORDER BY id"


@dataclass
class _Entry:
    principal: Principal
    version: int
    valid_until: datetime | None
    touched_at: datetime | None
    generation: int


_cache: OrderedDict[str, _Entry] = OrderedDict()
_watcher: ChangeWatcher | None = None


def use_change_watcher(watcher: ChangeWatcher | None) -> None:
    """Set by the web process; without one every request asks the database."""
    global _watcher
    _watcher = watcher
    _cache.clear()


def _generation() -> int:
    return _watcher.generation() if _watcher is not None else UNKNOWN


def _remember(key: str, entry: _Entry) -> None:
    _cache[key] = entry
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)


def forget_cached_principals() -> None:
    _cache.clear()


async def _current_version(session: AsyncSession, tenant_id: str) -> int | None:
    connection = await session.connection()
    version = await connection.scalar(select(Tenant.auth_version).where(Tenant.id == tenant_id))
    return None if version is None else int(version)


SessionSource = Callable[[], AsyncSession]
TouchCallback = Callable[[str], None]


def _opener(source: SessionSource | AsyncSession) -> SessionSource:
    if isinstance(source, AsyncSession):
        return lambda: source
    return source


async def _cached(
    session: SessionSource, key: str, ip: str | None, on_touch: TouchCallback | None
) -> Principal | None:
    entry = _cache.get(key)
    if entry is None:
        return None
    if entry.valid_until is not None and entry.valid_until <= utc_now():
        _cache.pop(key, None)
        return None
    generation = _generation()
    if generation < 0 or generation != entry.generation:
        if await _current_version(session(), entry.principal.tenant_id) != entry.version:
            _cache.pop(key, None)
            return None
        entry.generation = generation
    _cache.move_to_end(key)
    now = utc_now()
    token_id = entry.principal.token_id
    if entry.touched_at is not None and token_id and now - entry.touched_at > _TOUCH_EVERY:
        entry.touched_at = now
        if on_touch is not None:
            on_touch(token_id)
    return entry.principal if entry.principal.ip == ip else replace(entry.principal, ip=ip)


async def grants_of(session: AsyncSession, user_id: str) -> tuple[Grant, ...]:
    rows = (
        await session.execute(
            select(Membership.role, Unit.id, Unit.path, Unit.code, Unit.names)
            .select_from(Membership)
            .outerjoin(Unit, Unit.id == Membership.unit_id)
            .where(Membership.user_id == user_id)
        )
    ).all()
    return tuple(
        Grant(Role(role), unit_id, path, code, dict(names or {})) for role, unit_id, path, code, names in rows
    )


def token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        name=token.name,
        kind=token.kind,
        scopes=tuple(token.scopes),
        user_id=token.user_id,
        service_role=token.service_role,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def user_principal(
    user: User,
    grants: tuple[Grant, ...],
    tenant: tuple[str, str],
    *,
    token: ApiToken | None = None,
    ip: str | None = None,
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
        tenant_slug=tenant[0],
        tenant_name=tenant[1],
        token=token_info(token) if token else None,
    )


async def principal_from_token(
    source: SessionSource | AsyncSession,
    raw: str,
    *,
    ip: str | None = None,
    on_touch: TouchCallback | None = None,
) -> Principal | None:
    """``source`` is a session or a callable that opens one only when needed;
    ``on_touch`` is told when the token's last-use stamp is due."""
    token_id = split_token(raw)
    if token_id is None or len(token_id) > 26 or len(raw) > 200:
        return None
    open_session = _opener(source)
    key = "t:" + digest(raw)
    cached = await _cached(open_session, key, ip, on_touch)
    if cached is not None:
        return cached
    session = open_session()
    # Read before loading: a change committed meanwhile moves it, and the
    # next request re-checks.
    generation = _generation()
    row = (
        await session.execute(
            select(ApiToken, Tenant.auth_version, Tenant.slug, Tenant.name)
            .join(Tenant, Tenant.id == ApiToken.tenant_id)
            .where(ApiToken.id == token_id)
        )
    ).first()
    now = utc_now()
    if row is None:
        return None
    token, version, slug, tenant_name = row
    # The hash of the whole secret must match; the id alone only finds the row.
    if token.token_hash != digest(raw) or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if on_touch is not None and (token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY):
        on_touch(token.id)
    if token.kind == "service":
        unit = await session.get(Unit, token.service_unit_id) if token.service_unit_id else None
        role = Role(token.service_role or Role.ANALYST)
        grant = Grant(
            role,
            unit.id if unit else None,
            unit.path if unit else None,
            unit.code if unit else None,
            dict(unit.names) if unit else {},
        )
        principal = Principal(
            tenant_id=token.tenant_id,
            kind="service",
            user_id=None,
            token_id=token.id,
            label=f"service:{token.name}",
            name=token.name,
            locale=None,
            grants=(grant,),
            token_scopes=frozenset(token.scopes),
            ip=ip,
            tenant_slug=slug,
            tenant_name=tenant_name,
            token=token_info(token),
        )
    else:
        user = await session.get(User, token.user_id) if token.user_id else None
        if user is None or not user.is_active:
            return None
        principal = user_principal(
            user, await grants_of(session, user.id), (slug, tenant_name), token=token, ip=ip
        )
    _remember(key, _Entry(principal, int(version), token.expires_at, now, generation))
    return principal


async def principal_from_session(
    source: SessionSource | AsyncSession, secret: str, *, ip: str | None = None
) -> Principal | None:
    if not secret or len(secret) > 200:
        return None
    open_session = _opener(source)
    key = "s:" + digest(secret)
    cached = await _cached(open_session, key, ip, None)
    if cached is not None:
        return cached
    session = open_session()
    generation = _generation()
    row = (
        await session.execute(
            select(UserSession, User, Tenant.auth_version, Tenant.slug, Tenant.name)
            .join(User, User.id == UserSession.user_id)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(UserSession.id == digest(secret))
        )
    ).first()
    if row is None:
        return None
    user_session, user, version, slug, tenant_name = row
    if user_session.expires_at <= utc_now() or not user.is_active:
        return None
    principal = user_principal(user, await grants_of(session, user.id), (slug, tenant_name), ip=ip)
    _remember(key, _Entry(principal, int(version), user_session.expires_at, None, generation))
    return principal


async def touch_token(session: AsyncSession, token_id: str) -> None:
    """Stamp last use; run by the boundary in its own short write transaction."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utc_now()))
