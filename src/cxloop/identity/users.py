"""People: accounts, their role memberships, enabling and disabling."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.access import TENANT_WIDE_ROLES, Perm, Principal, Role
from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.models import Membership, Tenant, Unit, User, UserSession
from cxloop.identity.units import get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, invalid, not_found, refuse_control_characters
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.kit.security import hash_password_async

MIN_PASSWORD = 10
MAX_PASSWORD = 256
SUPPORTED_LOCALES = ("zh-CN", "zh-TW", "en")


def normalise_email(email: str, path: str = "email") -> str:
    try:
        return validate_email(
            email.strip(), check_deliverability=False, test_environment=True
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid(path, f"Not a valid email address: {exc}") from exc


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise invalid(
            "password", f"A password needs at least {MIN_PASSWORD} characters.", code="weak_password"
        )
    if len(password) > MAX_PASSWORD:
        raise invalid("password", f"A password has at most {MAX_PASSWORD} characters.")


def parse_role(value: str, path: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in Role)
        raise invalid(path, f"Unknown role {value!r}; one of {allowed}.") from exc


def check_locale(value: str | None, path: str = "locale") -> str | None:
    if value is not None and value not in SUPPORTED_LOCALES:
        raise invalid(path, f"Unsupported language {value!r}; one of {', '.join(SUPPORTED_LOCALES)}.")
    return value


@dataclass(frozen=True)
class UserView:
    user: User
    memberships: list[tuple[Membership, Unit | None]]


async def _unit_for_role(
    session: AsyncSession, tenant_id: str, role: Role, unit_code: str | None
) -> Unit | None:
    if unit_code is None:
        if role in TENANT_WIDE_ROLES:
            return None
        raise invalid("unit_code", f"The role {role.value} needs a unit.", code="unit_required")
    unit = await get_unit_by_code(session, tenant_id, unit_code)
    if unit is None:
        raise invalid("unit_code", f"No unit with code {unit_code!r}.", code="unit_not_found")
    return unit


async def create_user(
    session: AsyncSession,
    tenant: Tenant,
    *,
    email: str,
    name: str | None,
    password: str | None,
    role: str,
    unit_code: str | None,
    locale: str | None = None,
    actor: Actor,
) -> UserView:
    email = normalise_email(email)
    parsed_role = parse_role(role)
    if name is not None:
        refuse_control_characters("name", name.strip())
    if password is not None:
        check_password(password)
    check_locale(locale)
    unit = await _unit_for_role(session, tenant.id, parsed_role, unit_code)
    if (await session.execute(select(User.id).where(User.email == email))).first():
        raise Conflict("An account with this email exists already.", code="email_taken")
    now = utc_now()
    user = User(
        id=new_id(),
        tenant_id=tenant.id,
        email=email,
        name=(name or "").strip() or email.split("@")[0],
        password_hash=await hash_password_async(password) if password else None,
        locale=locale,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    # No ORM relationships tie the rows together, so the user goes in first.
    await session.flush()
    membership = Membership(
        id=new_id(),
        tenant_id=tenant.id,
        user_id=user.id,
        unit_id=unit.id if unit else None,
        role=parsed_role.value,
        created_at=now,
    )
    session.add(membership)
    record(
        session,
        actor,
        AuditAction.USER_CREATED,
        target_type="user",
        target_id=user.id,
        details={"email": email, "role": parsed_role.value, "unit_code": unit.code if unit else None},
    )
    await session.flush()
    return UserView(user, [(membership, unit)])


def _visible_users_clause(principal: Principal):  # type: ignore[no-untyped-def]
    reach = principal.reach(Perm.USERS_READ)
    if reach.everywhere:
        return User.tenant_id == principal.tenant_id
    in_reach = (
        select(Membership.id)
        .join(Unit, Unit.id == Membership.unit_id)
        .where(Membership.user_id == User.id, reach.unit_clause(Unit.id, Unit.path))
    )
    return (User.tenant_id == principal.tenant_id) & exists(in_reach)


async def _memberships(
    session: AsyncSession, user_ids: list[str]
) -> dict[str, list[tuple[Membership, Unit | None]]]:
    out: dict[str, list[tuple[Membership, Unit | None]]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return out
    rows = (
        await session.execute(
            select(Membership, Unit)
            .outerjoin(Unit, Unit.id == Membership.unit_id)
            .where(Membership.user_id.in_(user_ids))
            .order_by(Membership.created_at)
        )
    ).all()
    for membership, unit in rows:
        out[membership.user_id].append((membership, unit))
    return out


async def list_users(
    session: AsyncSession, principal: Principal, page: PageRequest, *, include_disabled: bool = True
) -> Page[UserView]:
    principal.require(Perm.USERS_READ)
    query = select(User).where(_visible_users_clause(principal))
    if not include_disabled:
        query = query.where(User.is_active.is_(True))
    users = (await session.execute(apply_keyset(query, User.id, "users", page))).scalars().all()
    result = make_page(users, "users", page, lambda u: u.id)
    members = await _memberships(session, [u.id for u in result.items])
    return Page([UserView(u, members[u.id]) for u in result.items], result.next_cursor)


async def get_user(session: AsyncSession, principal: Principal, user_id: str) -> UserView:
    if not principal.can(Perm.USERS_READ) and user_id != principal.user_id:
        raise not_found("user")
    query = select(User).where(User.id == user_id)
    if user_id != principal.user_id:
        query = query.where(_visible_users_clause(principal))
    else:
        query = query.where(User.tenant_id == principal.tenant_id)
    user = (await session.execute(query)).scalar_one_or_none()
    if user is None:
        raise not_found("user")
    return UserView(user, (await _memberships(session, [user.id]))[user.id])


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        await session.execute(select(User).where(User.email == email.strip().lower()))
    ).scalar_one_or_none()


async def update_user(
    session: AsyncSession,
    principal: Principal,
    user_id: str,
    *,
    name: str | None = None,
    locale: str | None = None,
    role: str | None = None,
    unit_code: str | None = None,
    password: str | None = None,
    change_unit: bool = False,
) -> UserView:
    """Change profile fields; role/unit changes replace the memberships."""
    view = await get_user(session, principal, user_id)
    user = view.user
    editing_self = user_id == principal.user_id
    if not editing_self or role is not None or change_unit or password is not None:
        principal.require(Perm.USERS_WRITE)
    principal.require_writing_token()
    actor = Actor.of(principal)
    if name is not None:
        if not name.strip():
            raise invalid("name", "A name cannot be empty.")
        refuse_control_characters("name", name.strip())
        user.name = name.strip()
    if locale is not None:
        user.locale = check_locale(locale)
    if password is not None:
        check_password(password)
        user.password_hash = await hash_password_async(password)
        await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    if role is not None or change_unit:
        current = view.memberships[0] if view.memberships else None
        new_role = (
            parse_role(role) if role is not None else Role(current[0].role) if current else Role.ANALYST
        )
        code = unit_code if change_unit else (current[1].code if current and current[1] else None)
        unit = await _unit_for_role(session, user.tenant_id, new_role, code)
        if user_id == principal.user_id and Role.ADMIN in principal.roles and new_role != Role.ADMIN:
            raise Conflict("You cannot take away your own admin role.", code="self_demotion")
        before = [(m.role, u.code if u else None) for m, u in view.memberships]
        await session.execute(delete(Membership).where(Membership.user_id == user.id))
        membership = Membership(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.id,
            unit_id=unit.id if unit else None,
            role=new_role.value,
            created_at=utc_now(),
        )
        session.add(membership)
        record(
            session,
            actor,
            AuditAction.ROLE_CHANGED,
            target_type="user",
            target_id=user.id,
            details={
                "before": [list(b) for b in before],
                "after": [new_role.value, unit.code if unit else None],
            },
        )
        view = UserView(user, [(membership, unit)])
    record(
        session,
        actor,
        AuditAction.USER_UPDATED,
        target_type="user",
        target_id=user.id,
        details={
            "fields": [
                k for k, v in {"name": name, "locale": locale, "password": password}.items() if v is not None
            ]
        },
    )
    await session.flush()
    return view


async def set_active(
    session: AsyncSession, principal: Principal | None, user: User, active: bool, actor: Actor
) -> None:
    if principal is not None and user.id == principal.user_id and not active:
        raise Conflict("You cannot disable your own account.", code="self_disable")
    if user.is_active == active:
        return
    user.is_active = active
    user.disabled_at = None if active else utc_now()
    if not active:
        await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    record(
        session,
        actor,
        AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
        target_type="user",
        target_id=user.id,
        details={"email": user.email},
    )
    await session.flush()
