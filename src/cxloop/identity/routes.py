"""The identity API: me, units, users, tokens, audit events."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from cxloop.identity.access import Perm, Principal, Role
from cxloop.identity.audit import Actor, list_events
from cxloop.identity.auth import CurrentPrincipal
from cxloop.identity.models import Unit
from cxloop.identity.schemas import (
    AuditEventOut,
    AuditPage,
    IssuedTokenOut,
    MembershipOut,
    MeOut,
    MeUpdate,
    TenantOut,
    TokenCreate,
    TokenOut,
    TokenPage,
    UnitCreate,
    UnitOut,
    UnitPage,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
    scope_of,
)
from cxloop.identity.tenants import get_tenant
from cxloop.identity.tokens import create_service_token, create_user_token, get_token, list_tokens, revoke
from cxloop.identity.units import codes_by_id, create_unit, display_name, list_units, visible_unit
from cxloop.identity.users import create_user, get_user, list_users, parse_role, set_active, update_user
from cxloop.kit.errors import invalid
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]


def page_of(limit: int, cursor: str | None) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


async def _unit_out(session: Any, units: list[Unit], locale: str | None) -> list[UnitOut]:
    parents = await codes_by_id(session, {u.parent_id for u in units if u.parent_id})
    return [UnitOut.of(u, parents[u.parent_id].code if u.parent_id else None, locale) for u in units]


def _locale(request: Request, principal: Principal) -> str | None:
    return principal.locale or getattr(request.state, "locale", None)


# --- me -------------------------------------------------------------------


def _me(principal: Principal, request: Request) -> MeOut:
    """Built from the cached principal: no query beyond authentication.

    Every value comes from a validated row already, so the models are
    constructed without validating again (this is the hottest call).
    """
    locale = _locale(request, principal)
    memberships = [
        MembershipOut.model_construct(
            role=g.role.value,
            unit_code=g.unit_code,
            unit_name=display_name(g.unit_names, locale) if g.unit_names else None,
        )
        for g in principal.grants
    ]
    return MeOut.model_construct(
        id=principal.user_id,
        kind=principal.kind,
        email=principal.label if principal.kind == "user" else None,
        name=principal.name,
        locale=principal.locale,
        tenant=TenantOut.model_construct(
            id=principal.tenant_id, slug=principal.tenant_slug, name=principal.tenant_name
        ),
        memberships=memberships,
        permissions=sorted(p.value for p in principal.permissions()),
        scope=scope_of(principal),
        token=TokenOut.of_info(principal.token) if principal.token else None,
    )


@router.get("/me", response_model=MeOut, tags=["identity"], summary="Who am I, and what can I see")
async def get_me(request: Request, principal: CurrentPrincipal) -> Response:
    # The hottest authenticated call (clients poll it). The body is a pure
    # function of the cached, immutable principal and the language, so it is
    # serialised once per principal and language.
    key = f"me:{_locale(request, principal)}"
    body = principal.memo.get(key)
    if body is None:
        body = principal.memo[key] = _me(principal, request).model_dump_json().encode()
    return Response(body, media_type="application/json")


@router.patch("/me", response_model=MeOut, tags=["identity"], summary="Change my name or language")
async def patch_me(
    request: Request, body: MeUpdate, session: DbSession, principal: CurrentPrincipal
) -> MeOut:
    if principal.user_id is None:
        raise invalid("body", "A service token has no profile to change.", code="not_a_user")
    view = await update_user(session, principal, principal.user_id, name=body.name, locale=body.locale)
    return _me(replace(principal, name=view.user.name, locale=view.user.locale), request)


# --- units ----------------------------------------------------------------


@router.get("/units", response_model=UnitPage, tags=["units"], summary="Units in my scope")
async def get_units(
    *,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    under: Annotated[str | None, Query(max_length=64, description="Only this unit's subtree")] = None,
) -> UnitPage:
    page = await list_units(session, principal, page_of(limit, cursor), under=under)
    return UnitPage(
        items=await _unit_out(session, list(page.items), _locale(request, principal)),
        next_cursor=page.next_cursor,
    )


@router.get("/units/{code}", response_model=UnitOut, tags=["units"], summary="One unit")
async def get_unit(request: Request, code: str, session: DbSession, principal: CurrentPrincipal) -> UnitOut:
    unit = await visible_unit(session, principal, code, Perm.UNITS_READ)
    return (await _unit_out(session, [unit], _locale(request, principal)))[0]


@router.post(
    "/units",
    status_code=201,
    response_model=UnitOut,
    tags=["units"],
    summary="Create a unit",
    responses={200: {"model": UnitOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_unit(
    request: Request, body: UnitCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.UNITS_WRITE)
    tenant = await get_tenant(session, principal.tenant_id)

    async def create() -> Any:
        names = dict(body.names or {})
        if isinstance(body.name, str):
            names.setdefault(tenant.default_locale, body.name)
        else:
            names.update(body.name)
        unit = await create_unit(
            session,
            tenant,
            code=body.code,
            names=names,
            parent_code=body.parent_code,
            timezone=body.timezone,
            kind=body.kind,
            actor=Actor.of(principal),
            reach=principal.reach(Perm.UNITS_WRITE),
        )
        out = (await _unit_out(session, [unit], _locale(request, principal)))[0]
        return out.model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


# --- users ----------------------------------------------------------------


@router.get("/users", response_model=UserPage, tags=["users"], summary="People in my scope")
async def get_users(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> UserPage:
    page = await list_users(session, principal, page_of(limit, cursor))
    locale = _locale(request, principal)
    return UserPage(items=[UserOut.of(v, locale) for v in page.items], next_cursor=page.next_cursor)


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], summary="One person")
async def get_one_user(
    request: Request, user_id: str, session: DbSession, principal: CurrentPrincipal
) -> UserOut:
    return UserOut.of(await get_user(session, principal, user_id), _locale(request, principal))


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    tags=["users"],
    summary="Create a person (admins)",
    responses={200: {"model": UserOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_user(
    request: Request, body: UserCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.USERS_WRITE)
    tenant = await get_tenant(session, principal.tenant_id)

    async def create() -> Any:
        view = await create_user(
            session,
            tenant,
            email=body.email,
            name=body.name,
            password=body.password,
            role=body.role,
            unit_code=body.unit_code,
            locale=body.locale,
            actor=Actor.of(principal),
        )
        return UserOut.of(view, _locale(request, principal)).model_dump(mode="json")

    fingerprint = body.model_dump(mode="json", exclude={"password"})
    return await idempotent(request, session, principal.idempotency_owner, fingerprint, create)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"], summary="Change a person")
async def patch_user(
    request: Request, user_id: str, body: UserUpdate, session: DbSession, principal: CurrentPrincipal
) -> UserOut:
    view = await update_user(
        session,
        principal,
        user_id,
        name=body.name,
        locale=body.locale,
        role=body.role,
        unit_code=body.unit_code,
        password=body.password,
        change_unit="unit_code" in body.model_fields_set,
    )
    return UserOut.of(view, _locale(request, principal))


async def _toggle(
    request: Request, user_id: str, session: Any, principal: Principal, active: bool
) -> UserOut:
    principal.require(Perm.USERS_WRITE)
    view = await get_user(session, principal, user_id)
    await set_active(session, principal, view.user, active, Actor.of(principal))
    return UserOut.of(view, _locale(request, principal))


@router.post("/users/{user_id}/disable", response_model=UserOut, tags=["users"], summary="Disable a person")
async def disable_user(
    request: Request, user_id: str, session: DbSession, principal: CurrentPrincipal
) -> UserOut:
    return await _toggle(request, user_id, session, principal, False)


@router.post("/users/{user_id}/enable", response_model=UserOut, tags=["users"], summary="Enable a person")
async def enable_user(
    request: Request, user_id: str, session: DbSession, principal: CurrentPrincipal
) -> UserOut:
    return await _toggle(request, user_id, session, principal, True)


# --- tokens ---------------------------------------------------------------


@router.get("/tokens", response_model=TokenPage, tags=["tokens"], summary="My tokens (admins: all)")
async def get_tokens(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    include_revoked: bool = False,
) -> TokenPage:
    page = await list_tokens(session, principal, page_of(limit, cursor), include_revoked=include_revoked)
    return TokenPage(items=[TokenOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"], summary="One token")
async def get_one_token(token_id: str, session: DbSession, principal: CurrentPrincipal) -> TokenOut:
    return TokenOut.of(await get_token(session, principal, token_id))


@router.post(
    "/tokens",
    status_code=201,
    response_model=IssuedTokenOut,
    tags=["tokens"],
    summary="Create a token (the secret is in this response only)",
    responses={200: {"model": IssuedTokenOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_token(
    request: Request, body: TokenCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.TOKENS_OWN)
    actor = Actor.of(principal)

    async def create() -> Any:
        if body.service is not None:
            principal.require(Perm.TOKENS_ALL)
            issued = await create_service_token(
                session,
                await get_tenant(session, principal.tenant_id),
                name=body.name,
                role=parse_role(body.service.role, "service.role"),
                unit_code=body.service.unit_code,
                scopes=body.scopes,
                expires_at=body.expires_at,
                actor=actor,
            )
        else:
            if principal.user_id is None:
                raise invalid("service", "A service token can only create service tokens.", code="not_a_user")
            view = await get_user(session, principal, principal.user_id)
            ceiling = sorted(principal.token_scopes) if principal.token_scopes is not None else None
            scopes = body.scopes if body.scopes is not None else ceiling
            if ceiling is not None and scopes is not None and not set(scopes) <= set(ceiling):
                raise invalid(
                    "scopes",
                    "A token cannot grant more than the token that creates it.",
                    code="scope_exceeds_role",
                )
            issued = await create_user_token(
                session,
                view.user,
                name=body.name,
                scopes=scopes,
                expires_at=body.expires_at,
                actor=actor,
            )
        await session.flush()
        data = TokenOut.of(issued.token).model_dump(mode="json")
        data["token"] = issued.secret
        return data

    return await idempotent(
        request,
        session,
        principal.idempotency_owner,
        body.model_dump(mode="json"),
        create,
        keep=lambda issued: {**issued, "token": None},
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"], summary="Revoke a token")
async def delete_token(token_id: str, session: DbSession, principal: CurrentPrincipal) -> TokenOut:
    principal.require(Perm.TOKENS_OWN)
    token = await get_token(session, principal, token_id)
    return TokenOut.of(await revoke(session, token, Actor.of(principal)))


# --- audit ----------------------------------------------------------------


@router.get("/audit-events", response_model=AuditPage, tags=["audit"], summary="The audit trail (admins)")
async def get_audit_events(
    *,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_user_id: Annotated[str | None, Query(max_length=26)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    page = await list_events(
        session,
        principal,
        page_of(limit, cursor),
        action=action,
        actor_user_id=actor_user_id,
        since=since,
        until=until,
    )
    return AuditPage(items=[AuditEventOut.of(e) for e in page.items], next_cursor=page.next_cursor)


__all__ = ["Role", "router"]
