"""Signing in and out, and choosing the page language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cxloop.identity import SESSION_COOKIE, Actor, OptionalPrincipal, client_ip
from cxloop.identity.logins import LoginPolicy, log_in, log_out
from cxloop.identity.users import update_user
from cxloop.kit.errors import RateLimited, Unauthenticated, invalid
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.web.i18n import N_, PAGE_LOCALES
from cxloop.web.pages.render import (
    app_settings,
    clear_session_cookie,
    finish,
    form_csrf_ok,
    render,
    rotate_csrf,
    safe_next,
    see_other,
    set_language_cookie,
    set_session_cookie,
)

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

MAX_EMAIL = 320
MAX_PASSWORD = 1024

FORM_EXPIRED = N_("The form has expired. Please try again.")


def _login_page(
    request: Request,
    *,
    status: int = 200,
    email: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    context: dict[str, Any] = {
        "email": email,
        "next_path": next_path or "",
        "errors": errors or {},
        "form_error": form_error,
    }
    return render(request, "login.html", context, status=status, headers=headers)


def _policy(request: Request) -> LoginPolicy:
    settings = app_settings(request)
    return LoginPolicy(
        max_failures=settings.login_max_failures,
        window=timedelta(seconds=settings.login_window_seconds),
        session_lifetime=timedelta(hours=settings.session_hours),
    )


@router.get("/login")
async def login_form(request: Request, principal: OptionalPrincipal) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if principal is not None and principal.kind == "user" and principal.token_id is None:
        return see_other(next_path or "/")
    return _login_page(request, next_path=next_path)


@router.post("/login")
async def login_submit(request: Request, session: DbSession) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(form.get("next"))
    if not form_csrf_ok(request, form):
        rotate_csrf(request)
        return _login_page(
            request, status=403, email=email[:MAX_EMAIL], next_path=next_path, form_error=FORM_EXPIRED
        )
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = N_("Enter your email address.")
    elif len(email) > MAX_EMAIL:
        errors["email"] = N_("This email address is too long.")
    if not password:
        errors["password"] = N_("Enter your password.")
    elif len(password) > MAX_PASSWORD:
        errors["password"] = N_("This password is too long.")
    if errors:
        return _login_page(request, status=422, email=email[:MAX_EMAIL], next_path=next_path, errors=errors)
    # A failed attempt must still be saved: it counts towards throttling and
    # belongs in the audit trail, so the boundary commits despite the 4xx.
    session.info["commit_on_error"] = True
    try:
        started = await log_in(
            session,
            email=email,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            policy=_policy(request),
        )
    except RateLimited as exc:
        return _login_page(
            request,
            status=429,
            email=email,
            next_path=next_path,
            form_error=N_("Too many failed sign-in attempts. Wait a few minutes and try again."),
            headers=exc.headers,
        )
    except Unauthenticated:
        return _login_page(
            request,
            status=401,
            email=email,
            next_path=next_path,
            errors={"password": N_("The email or password is not correct.")},
        )
    response = see_other(next_path or "/")
    set_session_cookie(request, response, started.secret)
    rotate_csrf(request)
    return finish(request, response)


@router.post("/logout")
async def logout(request: Request, session: DbSession, principal: OptionalPrincipal) -> Response:
    # With a live session, the principal dependency has already checked the
    # form's CSRF token; without one there is nothing to end but the cookie.
    secret = request.cookies.get(SESSION_COOKIE)
    if principal is not None and secret:
        await log_out(session, secret, Actor.of(principal))
    response = see_other("/login")
    clear_session_cookie(request, response)
    rotate_csrf(request)
    return finish(request, response)


@router.post("/language")
async def choose_language(request: Request, session: DbSession, principal: OptionalPrincipal) -> Response:
    form = await request.form()
    if principal is None and not form_csrf_ok(request, form):
        rotate_csrf(request)
        return _login_page(request, status=403, form_error=FORM_EXPIRED)
    locale = form.get("locale")
    if not isinstance(locale, str) or locale not in PAGE_LOCALES:
        raise invalid("locale", f"Choose one of {', '.join(PAGE_LOCALES)}.", code="unsupported_locale")
    if principal is not None and principal.user_id is not None and principal.token_id is None:
        await update_user(session, principal, principal.user_id, locale=locale)
    response = see_other(safe_next(form.get("next")) or "/")
    set_language_cookie(request, response, locale)
    return finish(request, response)
