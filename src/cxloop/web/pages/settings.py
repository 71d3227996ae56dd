"""The settings area: the hub, people and roles, and the organisation's unit tree.

Only tenant-wide roles (admins, CX managers) see it; to everyone else the
pages answer 404, like the audit log. Each form goes through the same
services as the API, so the same checks and audit events apply. A refused
form answers 4xx, which rolls the request's transaction back: nothing is
half-written. The other sections live in ``settings_config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from cxloop.identity import TENANT_WIDE_ROLES, Actor, Perm, Principal, Role, Unit, display_name, rename_unit
from cxloop.identity.tenants import get_tenant
from cxloop.identity.units import create_unit, list_units
from cxloop.identity.users import UserView, create_user, get_user, list_users, set_active, update_user
from cxloop.kit.errors import AppError, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import MAX_LIMIT, PageRequest
from cxloop.web.i18n import N_
from cxloop.web.pages.render import ROLE_LABELS, SignedIn, form_csrf_ok, render, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# Enough for any real organisation; beyond it the page says the list is cut.
MAX_ROWS = 5000
NAME_LOCALES = ("zh-CN", "en")
SECTIONS = (
    (
        "/settings/users",
        N_("Users and roles"),
        N_("People, their role and unit; invite, change, deactivate."),
    ),
    ("/settings/organisation", N_("Organisation"), N_("The unit tree: codes, names, kinds, time zones.")),
    (
        "/settings/channels",
        N_("Channels and sending"),
        N_("Email, SMS and WeChat providers, quiet hours, fallback order, frequency rules."),
    ),
    ("/settings/cases", N_("Cases"), N_("SLA per priority, root-cause codes, the business calendar.")),
    (
        "/settings/analytics",
        N_("Analytics and text"),
        N_("Anonymity threshold, targets per unit and metric, masking of personal data."),
    ),
)
# Notices shown after a redirect, by the key in ``?saved=``.
NOTICES = {
    "user_created": N_("The person was added."),
    "user_changed": N_("The role and unit were changed."),
    "user_disabled": N_("The person was deactivated and signed out."),
    "user_enabled": N_("The person can sign in again."),
    "password_set": N_("The new password is set; the person was signed out everywhere."),
    "unit_created": N_("The unit was added."),
    "unit_renamed": N_("The unit was renamed."),
    "saved": N_("Saved."),
    "removed": N_("Removed."),
}
# What to say for a refusal, by the service's stable error code.
CODE_MESSAGES = {
    "email_taken": N_("An account with this email exists already."),
    "unit_required": N_("This role needs a unit."),
    "unit_not_found": N_("Choose a unit from the list."),
    "weak_password": N_("A password needs at least 10 characters."),
    "self_demotion": N_("You cannot take away your own admin role."),
    "self_disable": N_("You cannot deactivate your own account."),
    "unit_code_taken": N_("A unit with this code exists already."),
    "parent_not_found": N_("Choose a parent unit from the list."),
    "root_exists": N_("The organisation already has a root unit; choose a parent."),
    "root_cause_exists": N_("A root cause with this code exists already."),
    "unknown_root_cause": N_("Choose a parent from the list."),
    "unknown_metric": N_("Choose a metric from the list, or prefix mean:, choices: or custom:."),
    "invalid_text": N_("Text may not contain control characters."),
}
NOT_VALID = N_("This value is not valid.")
NO_CONTROL_CHARACTERS = N_("Text may not contain control characters.")
# What a field wants, said when the service refuses its value, by form field.
FIELD_HINTS = {
    "email": N_("Enter a valid email address."),
    "password": N_("A password needs 10 to 256 characters."),
    "code": N_("A code has 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."),
    "timezone": N_("Use a time zone name such as Asia/Shanghai."),
    "parent_code": N_("Choose a parent unit from the list."),
    "name_zh-CN": N_("A name needs 1 to 200 characters."),
    "name_en": N_("A name needs 1 to 200 characters."),
}


# --- shared by every settings page --------------------------------------------------


def require_settings(principal: Principal) -> None:
    """Admins and CX managers only; to others there is no such page."""
    if not principal.roles & TENANT_WIDE_ROLES:
        raise not_found("page")


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("saved", ""))


def text_of(form: FormData, name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def expired(request: Request, principal: Principal) -> Response:
    return render(
        request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
    )


def refusal(exc: AppError | ValidationError) -> AppError | ValidationError:
    """The error a form shows next to its fields; 403, 404 and the like propagate."""
    if isinstance(exc, AppError) and exc.status not in (400, 409, 422):
        raise exc
    return exc


def errors_of(
    exc: AppError | ValidationError,
    fields: dict[str, str],
    default_field: str,
    prefix: str = "",
) -> dict[str, str]:
    """Per-field messages: ``fields`` maps a service path's head to a form field.

    Each field gets the message for the service's error code when there is
    one, else that field's own hint, else a generic one.
    """
    if isinstance(exc, ValidationError):
        paths = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        code = ""
    else:
        paths = [e.path for e in exc.errors]
        code = exc.code
    found: dict[str, str] = {}
    for path in paths or [default_field]:
        head = path.split("[", 1)[0]
        target = fields.get(head) or fields.get(head.split(".", 1)[0]) or default_field
        message = CODE_MESSAGES.get(code) or FIELD_HINTS.get(target, NOT_VALID)
        found.setdefault(prefix + target, message)
    return found


def status_of(exc: AppError | ValidationError) -> int:
    return exc.status if isinstance(exc, AppError) else 422


async def all_units(session: AsyncSession, principal: Principal) -> tuple[list[Unit], bool]:
    units: list[Unit] = []
    cursor: str | None = None
    while True:
        page = await list_units(session, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor))
        units.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return units, False
        if len(units) >= MAX_ROWS:
            return units, True


@dataclass
class UnitRow:
    unit: Unit
    name: str
    depth: int
    parent_code: str | None
    children: list[UnitRow] = field(default_factory=list)


def unit_options(rows: list[UnitRow]) -> list[tuple[str, str]]:
    """Choices of a unit select, indented by depth, each with its code."""
    return [(row.unit.code, "\u00a0\u00a0" * row.depth + f"{row.name} ({row.unit.code})") for row in rows]


def unit_rows(units: list[Unit], locale: str) -> list[UnitRow]:
    """The units in tree order (parents before their children), with their depth in view."""
    by_id = {u.id: u for u in units}
    rows = {
        u.id: UnitRow(
            u, display_name(u.names, locale), 0, by_id[u.parent_id].code if u.parent_id in by_id else None
        )
        for u in units
    }
    roots: list[UnitRow] = []
    for unit in sorted(units, key=lambda u: (u.depth, u.code)):
        parent = rows.get(unit.parent_id) if unit.parent_id else None
        (parent.children if parent else roots).append(rows[unit.id])
    ordered: list[UnitRow] = []

    def walk(row: UnitRow, depth: int) -> None:
        row.depth = depth
        ordered.append(row)
        for child in row.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return ordered


# --- the hub ------------------------------------------------------------------------


@router.get("/settings")
async def settings_hub(request: Request, principal: SignedIn) -> Response:
    require_settings(principal)
    context = {"settings_sections": SECTIONS, "can_manage_users": principal.can(Perm.USERS_WRITE)}
    return render(request, "settings/hub.html", context, principal=principal)


# --- users and roles ----------------------------------------------------------------

USER_FIELDS = {
    "email": "email",
    "name": "name",
    "role": "role",
    "unit_code": "unit_code",
    "password": "password",
}
EMPTY_USER = {"email": "", "name": "", "role": "agent", "unit_code": "", "password": ""}


async def _users_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row_forms: dict[str, dict[str, str]] | None = None,
) -> Response:
    locale = getattr(request.state, "locale", None) or principal.locale or "zh-CN"
    views: list[UserView] = []
    cursor: str | None = None
    while len(views) < MAX_ROWS:
        page = await list_users(session, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor))
        views.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    units, _cut = await all_units(session, principal)
    people = []
    for view in sorted(views, key=lambda v: v.user.email):
        membership = view.memberships[0] if view.memberships else None
        role = membership[0].role if membership else ""
        unit = membership[1] if membership else None
        people.append(
            {
                "user": view.user,
                "role": role,
                "unit_code": unit.code if unit else "",
                "unit_name": display_name(unit.names, locale) if unit else "",
                "extra_roles": len(view.memberships) - 1,
            }
        )
    context = {
        "people": people,
        "cut": cursor is not None,
        "unit_options": unit_options(unit_rows(units, locale)),
        "role_options": [(r.value, ROLE_LABELS[r.value]) for r in Role],
        "tenant_wide_roles": sorted(r.value for r in TENANT_WIDE_ROLES),
        "can_edit": principal.can(Perm.USERS_WRITE),
        "form": form or dict(EMPTY_USER),
        "errors": errors or {},
        "row_forms": row_forms or {},
        "notice": notice_of(request),
    }
    return render(request, "settings/users.html", context, status=status, principal=principal)


@router.get("/settings/users")
async def users_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    return await _users_page(request, session, principal)


def _role_unit(role: str, unit_code: str) -> str | None:
    # Tenant-wide roles work everywhere: a unit chosen for them is not kept.
    return None if role in {r.value for r in TENANT_WIDE_ROLES} or not unit_code else unit_code


@router.post("/settings/users")
async def create_user_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    form = await request.form()
    if not form_csrf_ok(request, form):
        return expired(request, principal)
    principal.require(Perm.USERS_WRITE)
    values = {name: text_of(form, name, 320) for name in ("email", "name", "role", "unit_code")}
    password = form.get("password")
    values["password"] = ""  # never sent back to the browser
    errors: dict[str, str] = {}
    if not values["email"]:
        errors["email"] = N_("Enter the person's email address.")
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = N_("Choose a role from the list.")
    elif values["role"] not in {r.value for r in TENANT_WIDE_ROLES} and not values["unit_code"]:
        errors["unit_code"] = N_("This role needs a unit.")
    if len(values["name"]) > 200:
        errors["name"] = N_("A name has at most 200 characters.")
    if errors:
        return await _users_page(request, session, principal, status=422, form=values, errors=errors)
    try:
        await create_user(
            session,
            await get_tenant(session, principal.tenant_id),
            email=values["email"],
            name=values["name"] or None,
            password=password if isinstance(password, str) and password else None,
            role=values["role"],
            unit_code=_role_unit(values["role"], values["unit_code"]),
            actor=Actor.of(principal),
        )
    except (AppError, ValidationError) as exc:
        error = refusal(exc)
        await session.rollback()
        errors = errors_of(error, USER_FIELDS, "email")
        return await _users_page(
            request, session, principal, status=status_of(error), form=values, errors=errors
        )
    return see_other("/settings/users?saved=user_created")


@router.post("/settings/users/{user_id}")
async def change_user_form(
    request: Request, user_id: str, session: DbSession, principal: SignedIn
) -> Response:
    require_settings(principal)
    form = await request.form()
    if not form_csrf_ok(request, form):
        return expired(request, principal)
    principal.require(Perm.USERS_WRITE)
    if len(user_id) > 26:
        raise not_found("user")
    view = await get_user(session, principal, user_id)
    action = text_of(form, "action", 20)
    values = {"role": text_of(form, "role", 20), "unit_code": text_of(form, "unit_code", 64)}
    prefix = f"{user_id}:"
    try:
        if action == "disable":
            await set_active(session, principal, view.user, False, Actor.of(principal))
            saved = "user_disabled"
        elif action == "enable":
            await set_active(session, principal, view.user, True, Actor.of(principal))
            saved = "user_enabled"
        elif action == "password":
            new_password = form.get("password")
            if not isinstance(new_password, str) or not new_password:
                errors = {prefix + "password": N_("Enter the new password.")}
                return await _users_page(request, session, principal, status=422, errors=errors)
            # Setting a password also signs the person out everywhere.
            await update_user(session, principal, user_id, password=new_password)
            saved = "password_set"
        elif action == "change":
            if values["role"] not in {r.value for r in Role}:
                errors = {prefix + "role": N_("Choose a role from the list.")}
                return await _users_page(
                    request, session, principal, status=422, errors=errors, row_forms={user_id: values}
                )
            await update_user(
                session,
                principal,
                user_id,
                role=values["role"],
                unit_code=_role_unit(values["role"], values["unit_code"]),
                change_unit=True,
            )
            saved = "user_changed"
        else:
            raise not_found("page")
    except (AppError, ValidationError) as exc:
        error = refusal(exc)
        await session.rollback()
        default = {"change": "role", "password": "password"}.get(action, "status")
        fields = {"role": "role", "unit_code": "unit_code", "password": "password"}
        errors = errors_of(error, fields, default, prefix)
        return await _users_page(
            request, session, principal, status=status_of(error), errors=errors, row_forms={user_id: values}
        )
    return see_other(f"/settings/users?saved={saved}")


# --- organisation -------------------------------------------------------------------

UNIT_FIELDS = {
    "code": "code",
    "parent_code": "parent_code",
    "timezone": "timezone",
    "kind": "kind",
    "name.zh-CN": "name_zh-CN",
    "name.en": "name_en",
    "name": "name_zh-CN",
}
UNIT_NAME_NEEDED = N_("Give the unit a name in at least one language.")
EMPTY_UNIT = {"code": "", "parent_code": "", "kind": "", "timezone": "", "name_zh-CN": "", "name_en": ""}


def _names_from(form: FormData, prefix: str = "name_") -> dict[str, str]:
    names = {tag: text_of(form, f"{prefix}{tag}", 300) for tag in NAME_LOCALES}
    return {tag: text for tag, text in names.items() if text}


async def _organisation_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row_forms: dict[str, dict[str, str]] | None = None,
) -> Response:
    locale = getattr(request.state, "locale", None) or principal.locale or "zh-CN"
    units, cut = await all_units(session, principal)
    rows = unit_rows(units, locale)
    context = {
        "units": rows,
        "unit_options": unit_options(rows),
        "cut": cut,
        "name_locales": NAME_LOCALES,
        "can_edit": principal.can(Perm.UNITS_WRITE),
        "form": form or dict(EMPTY_UNIT),
        "errors": errors or {},
        "row_forms": row_forms or {},
        "notice": notice_of(request),
    }
    return render(request, "settings/organisation.html", context, status=status, principal=principal)


@router.get("/settings/organisation")
async def organisation_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    return await _organisation_page(request, session, principal)


@router.post("/settings/organisation")
async def create_unit_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    form = await request.form()
    if not form_csrf_ok(request, form):
        return expired(request, principal)
    principal.require(Perm.UNITS_WRITE)
    values = {name: text_of(form, name, 300) for name in EMPTY_UNIT}
    errors: dict[str, str] = {}
    if not values["code"]:
        errors["code"] = N_("Give the unit a code.")
    if not values["parent_code"]:
        errors["parent_code"] = N_("Choose a parent unit from the list.")
    names = _names_from(form)
    if not names:
        errors["name_zh-CN"] = UNIT_NAME_NEEDED
    if len(values["kind"]) > 32:
        errors["kind"] = N_("A kind has at most 32 characters.")
    if errors:
        return await _organisation_page(request, session, principal, status=422, form=values, errors=errors)
    try:
        await create_unit(
            session,
            await get_tenant(session, principal.tenant_id),
            code=values["code"],
            names=names,
            parent_code=values["parent_code"],
            timezone=values["timezone"] or None,
            kind=values["kind"] or None,
            actor=Actor.of(principal),
            reach=principal.reach(Perm.UNITS_WRITE),
        )
    except (AppError, ValidationError) as exc:
        error = refusal(exc)
        await session.rollback()
        errors = errors_of(error, UNIT_FIELDS, "code")
        return await _organisation_page(
            request, session, principal, status=status_of(error), form=values, errors=errors
        )
    return see_other("/settings/organisation?saved=unit_created")


@router.post("/settings/organisation/{code}/rename")
async def rename_unit_form(request: Request, code: str, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    form = await request.form()
    if not form_csrf_ok(request, form):
        return expired(request, principal)
    principal.require(Perm.UNITS_WRITE)
    values = {f"name_{tag}": text_of(form, f"name_{tag}", 300) for tag in NAME_LOCALES}
    prefix = f"{code}:"
    try:
        # An unknown unit is a 404 before the names are checked.
        await rename_unit(session, principal, code, _names_from(form))
    except (AppError, ValidationError) as exc:
        error = refusal(exc)
        await session.rollback()
        errors = errors_of(error, UNIT_FIELDS, "name_zh-CN", prefix)
        if not _names_from(form):
            errors = {prefix + "name_zh-CN": UNIT_NAME_NEEDED}
        return await _organisation_page(
            request, session, principal, status=status_of(error), errors=errors, row_forms={code: values}
        )
    return see_other("/settings/organisation?saved=unit_renamed")


__all__ = [
    "errors_of",
    "expired",
    "notice_of",
    "refusal",
    "require_settings",
    "router",
    "status_of",
    "text_of",
]
