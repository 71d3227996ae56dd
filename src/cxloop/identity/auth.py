"""FastAPI dependencies that say who is calling, for API routes and pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from cxloop.identity.access import Principal
from cxloop.identity.principals import (
    principal_from_session,
    principal_from_token,
    touch_token,
)
from cxloop.kit import csrf
from cxloop.kit.errors import Forbidden, Unauthenticated
from cxloop.kit.http import SAFE_METHODS, request_session, run_after_request

SESSION_COOKIE = "cxloop_session"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _touch_later(request: Request) -> Callable[[str], None]:
    def schedule(token_id: str) -> None:
        run_after_request(request, functools.partial(touch_token, token_id=token_id))

    return schedule


async def optional_principal(request: Request) -> Principal | None:
    """Depends on nothing but the request: the session opens only on a cache miss."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    session = functools.partial(request_session, request)
    header = request.headers.get("authorization")
    principal: Principal | None = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated(
                "Use 'Authorization: Bearer <token>'.",
                code="bad_authorization_header",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = await principal_from_token(
            session, value.strip(), ip=client_ip(request), on_touch=_touch_later(request)
        )
        if principal is None:
            raise Unauthenticated(
                "The token is not valid, expired or revoked.",
                code="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            principal = await principal_from_session(session, cookie, ip=client_ip(request))
            if principal is not None and request.method not in SAFE_METHODS:
                presented = request.headers.get(csrf.HEADER)
                if presented is None and "form" in request.headers.get("content-type", ""):
                    presented = str((await request.form()).get(csrf.FORM_FIELD) or "")
                if not csrf.valid(request.app.state.secret_key, request.cookies.get(csrf.COOKIE), presented):
                    raise Forbidden(
                        "The form has expired; reload the page and try again.", code="csrf_failed"
                    )
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated(
            "Sign in or send 'Authorization: Bearer <token>'.",
            code="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
