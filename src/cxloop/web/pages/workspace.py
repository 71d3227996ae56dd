"""The signed-in pages: home (who, role, scope), API tokens, the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Actor, AuditAction, Perm, Principal, Role, Unit, display_name
from cxloop.identity.access import scopes_for_role
from cxloop.identity.audit import list_events
from cxloop.identity.tokens import create_user_token, get_token, list_tokens, revoke
from cxloop.identity.units import codes_by_id, list_units
from cxloop.identity.users import get_user
from cxloop.kit.clock import reportable
from cxloop.kit.errors import ValidationFailed, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import MAX_LIMIT, PageRequest
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, render, request_locale, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# Enough for any real organisation; beyond it the page says the tree is cut.
MAX_TREE_UNITS = 5000
EXPIRY_CHOICES = ("", "30", "90", "365")
AUDIT_ACTIONS = sorted(v for k, v in vars(AuditAction).items() if k.isupper())
SCOPE_LABELS = {
    "read": N_("Read"),
    "write": N_("Read and write"),
    "admin": N_("Administration"),
}


# --- home -----------------------------------------------------------------


@dataclass
class UnitNode:
    code: str
    name: str
    kind: str | None
    children: list[UnitNode] = field(default_factory=list)


async def _units_in_scope(session: AsyncSession, principal: Principal) -> tuple[list[Unit], bool]:
    units: list[Unit] = []
    cursor: str | None = None
    while True:
        page = await list_units(session, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor))
        units.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return units, False
        if len(units) >= MAX_TREE_UNITS:
            return units, True


def unit_tree(units: list[Unit], locale: str) -> list[UnitNode]:
    """The visible units as a forest: a unit whose parent is out of sight is a root."""
    nodes = {u.id: UnitNode(u.code, display_name(u.names, locale), u.kind) for u in units}
    roots: list[UnitNode] = []
    for unit in sorted(units, key=lambda u: (u.depth, u.code)):
        node = nodes[unit.id]
        parent = nodes.get(unit.parent_id) if unit.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


@router.get("/")
async def home(request: Request, session: DbSession, principal: SignedIn) -> Response:
    locale = request_locale(request, principal)
    units, cut = await _units_in_scope(session, principal)
    grant_units = await codes_by_id(session, {g.unit_id for g in principal.grants if g.unit_id})
    memberships = [
        {
            "role": grant.role.value,
            "unit_code": grant.unit_code,
            "unit_name": display_name(grant_units[grant.unit_id].names, locale)
            if grant.unit_id in grant_units
            else None,
        }
        for grant in principal.grants
    ]
    context = {
        "memberships": memberships,
        "tree": unit_tree(units, locale),
        "unit_count": len(units),
        "tree_cut": cut,
        "everywhere": principal.reach(Perm.UNITS_READ).everywhere,
    }
    return render(request, "home.html", context, principal=principal)


# --- tokens -----------------------------------------------------------------


def _scope_choices(principal: Principal) -> list[str]:
    choices: list[str] = []
    for role in sorted(principal.roles, key=lambda r: list(Role).index(r)):
        for scope in scopes_for_role(role):
            if str(scope) not in choices:
                choices.append(str(scope))
    return choices


async def _tokens_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    issued: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    page = await list_tokens(session, principal, PageRequest(limit=MAX_LIMIT))
    choices = _scope_choices(principal)
    context = {
        "tokens": page.items,
        "more_tokens": page.next_cursor is not None,
        "scope_choices": choices,
        "scope_labels": SCOPE_LABELS,
        "expiry_choices": EXPIRY_CHOICES,
        "issued": issued,
        "form": form or {"name": "", "scopes": [s for s in choices if s != "admin"], "expires_days": ""},
        "errors": errors or {},
        "show_owner": principal.can(Perm.TOKENS_ALL),
    }
    return render(request, "tokens.html", context, status=status, principal=principal)


@router.get("/tokens")
async def tokens(request: Request, session: DbSession, principal: SignedIn) -> Response:
    return await _tokens_page(request, session, principal)


def _field_of(path: str) -> str:
    head = path.split("[", maxsplit=1)[0].split(".", maxsplit=1)[0]
    return {"expires_at": "expires_days"}.get(head, head if head in ("name", "scopes") else "name")


@router.post("/tokens")
async def create_token(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    scopes = [str(s) for s in form.getlist("scopes")][:10]
    expires_days = str(form.get("expires_days") or "")
    values = {"name": name[:200], "scopes": scopes, "expires_days": expires_days}
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = N_("Give the token a name.")
    elif len(name) > 200:
        errors["name"] = N_("A name has at most 200 characters.")
    if not scopes:
        errors["scopes"] = N_("Choose at least one permission.")
    if expires_days not in EXPIRY_CHOICES:
        errors["expires_days"] = N_("Choose one of the offered expiry periods.")
    if errors:
        return await _tokens_page(request, session, principal, status=422, form=values, errors=errors)
    assert principal.user_id is not None
    user = (await get_user(session, principal, principal.user_id)).user
    expires_at = datetime.now(UTC) + timedelta(days=int(expires_days)) if expires_days else None
    try:
        issued = await create_user_token(
            session, user, name=name, scopes=scopes, expires_at=expires_at, actor=Actor.of(principal)
        )
    except ValidationFailed as exc:
        paths = [e.path for e in exc.errors] or ["name"]
        field_errors = {_field_of(p): N_("This value is not allowed.") for p in paths}
        if "scopes" in field_errors:
            field_errors["scopes"] = N_("Choose only permissions your role allows.")
        if exc.code == "invalid_text":
            field_errors["name"] = N_("A name may not contain control characters.")
        return await _tokens_page(request, session, principal, status=422, form=values, errors=field_errors)
    await session.flush()
    shown = {"name": issued.token.name, "secret": issued.secret}
    return await _tokens_page(request, session, principal, status=201, issued=shown)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, session: DbSession, principal: SignedIn) -> Response:
    if len(token_id) > 26:
        raise not_found("token")
    token = await get_token(session, principal, token_id)
    await revoke(session, token, Actor.of(principal))
    return see_other("/tokens")


# --- audit log ---------------------------------------------------------------


def _parse_day(value: str) -> date | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if reportable(day) else None


@router.get("/audit")
async def audit(request: Request, session: DbSession, principal: SignedIn) -> Response:
    if not principal.can(Perm.AUDIT_READ):
        # Not for this person: answer as if there were no such page.
        raise not_found("page")
    params = request.query_params
    action = params.get("action", "")[:64]
    since_text = params.get("since", "")[:10]
    until_text = params.get("until", "")[:10]
    cursor = params.get("cursor") or None
    errors: dict[str, str] = {}
    if action and action not in AUDIT_ACTIONS:
        errors["action"] = N_("Choose an action from the list.")
    since = _parse_day(since_text) if since_text else None
    if since_text and since is None:
        errors["since"] = N_("Enter a date as YYYY-MM-DD.")
    until = _parse_day(until_text) if until_text else None
    if until_text and until is None:
        errors["until"] = N_("Enter a date as YYYY-MM-DD.")
    if since and until and until < since:
        errors["until"] = N_("The end date lies before the start date.")
    if cursor and len(cursor) > 500:
        errors["cursor"] = N_("This page link is not valid; start again from the first page.")
    events: list[Any] = []
    next_cursor: str | None = None
    if not errors:
        try:
            page = await list_events(
                session,
                principal,
                PageRequest(limit=100, cursor=cursor),
                action=action or None,
                since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
                until=datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
                if until
                else None,
            )
            events, next_cursor = list(page.items), page.next_cursor
        except ValidationFailed:
            errors["cursor"] = N_("This page link is not valid; start again from the first page.")
    filters = {"action": action, "since": since_text, "until": until_text}
    context = {
        "events": events,
        "next_cursor": next_cursor,
        "filters": filters,
        "actions": AUDIT_ACTIONS,
        "errors": errors,
        "paged": bool(cursor),
    }
    return render(request, "audit.html", context, status=422 if errors else 200, principal=principal)
