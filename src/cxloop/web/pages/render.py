"""What every page shares: language, CSRF cookie, cookies' flags, rendering,
the signed-in dependency and the security headers of HTML responses."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import cxloop
from cxloop.identity import SESSION_COOKIE, TENANT_WIDE_ROLES, OptionalPrincipal, Perm, Principal
from cxloop.kit import csrf
from cxloop.kit.errors import Unauthenticated
from cxloop.kit.settings import Settings
from cxloop.web.i18n import LANG_COOKIE, N_, PAGE_LOCALES, PageLanguages, negotiate

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HTML_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

# Main navigation after Home and Surveys: (label, address); a section is
# current when the path starts with its address or one of its extra prefixes.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (N_("Customers"), "/contacts", ("/segments", "/journeys")),
    (N_("Distribution"), "/campaigns", ("/triggers", "/deliveries")),
    (N_("Dashboards"), "/dashboards", ()),
    (N_("Cases"), "/cases", ()),
    (N_("Alerts"), "/alerts", ()),
    (N_("Text analytics"), "/text", ()),
)
# What later capabilities fill; until then it shows as upcoming.
UPCOMING: tuple[str, ...] = ()
ROLE_LABELS = {
    "admin": N_("Administrator"),
    "cx_manager": N_("CX manager"),
    "unit_manager": N_("Unit manager"),
    "agent": N_("Agent"),
    "analyst": N_("Analyst"),
}


class LoginRequired(Unauthenticated):
    """Raised by page dependencies; the error page turns it into a redirect."""

    default_code = "login_required"


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def languages(request: Request) -> PageLanguages:
    langs: PageLanguages = request.app.state.page_languages
    return langs


def secret_key(request: Request) -> str:
    key: str | None = getattr(request.app.state, "secret_key", None)
    return key or app_settings(request).effective_secret_key()


def request_locale(request: Request, principal: Principal | None = None) -> str:
    principal = principal or getattr(request.state, "principal", None)
    locale = negotiate(
        principal.locale if principal else None,
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        app_settings(request).default_locale,
    )
    request.state.locale = locale
    return locale


def secure_cookies(request: Request) -> bool:
    mode = app_settings(request).cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


# --- CSRF -------------------------------------------------------------------


def _csrf_cookie_value(request: Request) -> str:
    value: str | None = getattr(request.state, "csrf_cookie", None)
    if value is None:
        value = request.cookies.get(csrf.COOKIE)
        if not value or len(value) > 100:
            value = csrf.new_cookie_value()
            request.state.csrf_cookie_is_new = True
        request.state.csrf_cookie = value
    return value


def rotate_csrf(request: Request) -> None:
    """A fresh CSRF cookie at every change of who is signed in."""
    request.state.csrf_cookie = csrf.new_cookie_value()
    request.state.csrf_cookie_is_new = True


def csrf_token(request: Request) -> str:
    return csrf.token_for(secret_key(request), _csrf_cookie_value(request))


def form_csrf_ok(request: Request, form: FormData) -> bool:
    presented = form.get(csrf.FORM_FIELD)
    return csrf.valid(
        secret_key(request),
        request.cookies.get(csrf.COOKIE),
        presented if isinstance(presented, str) else None,
    )


def finish(request: Request, response: Response) -> Response:
    """Send the CSRF cookie when this request made a new one."""
    if getattr(request.state, "csrf_cookie_is_new", False):
        response.set_cookie(
            csrf.COOKIE,
            request.state.csrf_cookie,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/",
        )
    return response


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=app_settings(request).session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def set_language_cookie(request: Request, response: Response, locale: str) -> None:
    response.set_cookie(
        LANG_COOKIE,
        locale,
        max_age=LANG_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


# --- navigation -----------------------------------------------------------------


def safe_next(value: object) -> str | None:
    """A local path to return to, or None: never another host or scheme."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return None
    if not value.startswith("/") or value.startswith(("//", "/\\")) or any(c in value for c in "\\\r\n\t"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def current_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_redirect(request: Request) -> RedirectResponse:
    target = "/login"
    if request.method in ("GET", "HEAD") and request.url.path not in ("/", "/login"):
        target += "?next=" + quote(current_path(request), safe="/")
    return RedirectResponse(target, status_code=303)


def see_other(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


# --- who is signed in -------------------------------------------------------------


async def signed_in_principal(principal: OptionalPrincipal) -> Principal:
    """Pages are for people with a browser session, not for API tokens."""
    if principal is None or principal.kind != "user" or principal.user_id is None or principal.token_id:
        raise LoginRequired("Sign in to continue.")
    return principal


SignedIn = Annotated[Principal, Depends(signed_in_principal)]


# --- rendering ----------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    principal: Principal | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    principal = principal or getattr(request.state, "principal", None)
    locale = request_locale(request, principal)
    env = languages(request).environment(locale)
    values: dict[str, Any] = {
        "locale": locale,
        "languages": PAGE_LOCALES,
        "principal": principal,
        "is_admin": bool(principal and principal.can(Perm.AUDIT_READ)),
        # The settings area is for tenant-wide roles (admins, CX managers).
        "can_configure": bool(principal and principal.roles & TENANT_WIDE_ROLES),
        "csrf_field": csrf.FORM_FIELD,
        "csrf_token": csrf_token(request),
        "version": cxloop.__version__,
        "current_path": current_path(request),
        "path": request.url.path,
        "upcoming": UPCOMING,
        "nav_sections": SECTIONS,
        "role_labels": ROLE_LABELS,
    }
    values.update(context or {})
    body = env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status, headers=headers)
    # Pages show personal data and one-time secrets: never keep them in caches.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Cookie, Accept-Language"
    finish(request, response)
    return response


class SecurityHeaders:
    """Adds the security headers to every HTML response, and nosniff to all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                is_html = content_type.startswith(b"text/html")
                for name, value in HTML_SECURITY_HEADERS.items():
                    key = name.lower().encode()
                    if key in names or (not is_html and key != b"x-content-type-options"):
                        continue
                    headers.append((key, value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
