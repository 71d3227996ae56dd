"""Password login, browser sessions, logout, and throttling of guesses.

Failures are counted in the database (not in process memory) so the limit
holds across any number of web processes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.models import LoginAttempt, User, UserSession
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import RateLimited, Unauthenticated
from cxloop.kit.ids import new_id
from cxloop.kit.security import digest, verify_password_async

# An address may try ten accounts' worth of passwords before it waits.
IP_FACTOR = 10


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class StartedSession:
    user: User
    secret: str


async def _recent_failures(
    session: AsyncSession, email_key: str, ip: str, policy: LoginPolicy
) -> tuple[int, int]:
    since = utc_now() - policy.window
    by_email = await session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.email_digest == email_key, LoginAttempt.attempted_at >= since)
    )
    by_ip = await session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.ip == ip, LoginAttempt.attempted_at >= since)
    )
    return int(by_email or 0), int(by_ip or 0)


async def log_in(
    session: AsyncSession, *, email: str, password: str, ip: str, user_agent: str | None, policy: LoginPolicy
) -> StartedSession:
    """Check the password and open a session, or raise (and remember why).

    The caller commits even on failure: the failed attempt and its audit
    event must persist for throttling and for the audit trail.
    """
    email = email.strip().lower()[:320]
    email_key = digest(email)
    by_email, by_ip = await _recent_failures(session, email_key, ip, policy)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    actor = Actor(user.tenant_id if user else None, user.id if user else None, None, email, ip)
    if by_email >= policy.max_failures or by_ip >= policy.max_failures * IP_FACTOR:
        record(
            session,
            actor,
            AuditAction.LOGIN_THROTTLED,
            target_type="user",
            target_id=user.id if user else None,
        )
        raise RateLimited(
            "Too many failed sign-in attempts. Wait a few minutes and try again.",
            code="login_throttled",
            headers={"Retry-After": str(int(policy.window.total_seconds()))},
        )
    valid = await verify_password_async(user.password_hash if user else None, password)
    if not valid or user is None or not user.is_active:
        session.add(LoginAttempt(id=new_id(), email_digest=email_key, ip=ip, attempted_at=utc_now()))
        reason = "bad_credentials" if (user is None or not valid) else "disabled"
        record(
            session,
            actor,
            AuditAction.LOGIN_FAILED,
            target_type="user",
            target_id=user.id if user else None,
            details={"reason": reason},
        )
        raise Unauthenticated("The email or password is not correct.", code="bad_credentials")
    await session.execute(delete(LoginAttempt).where(LoginAttempt.email_digest == email_key))
    secret = secrets.token_urlsafe(32)
    now = utc_now()
    session.add(
        UserSession(
            id=digest(secret),
            user_id=user.id,
            created_at=now,
            expires_at=now + policy.session_lifetime,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    record(session, actor, AuditAction.LOGIN_SUCCEEDED, target_type="user", target_id=user.id)
    return StartedSession(user, secret)


async def log_out(session: AsyncSession, secret: str, actor: Actor) -> None:
    row = await session.get(UserSession, digest(secret))
    if row is None:
        return
    await session.delete(row)
    record(session, actor, AuditAction.LOGOUT, target_type="user", target_id=row.user_id)


async def purge_expired(session: AsyncSession) -> None:
    now = utc_now()
    await session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    await session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - timedelta(days=1)))
