"""Server-rendered pages (Jinja2 + htmx), in zh-CN and en.

``mount`` adds the page routes, static files and security headers to the
app; ``error_page`` renders errors of non-API paths (401 becomes a redirect
to the sign-in page).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings
from cxloop.web.i18n import N_, build_languages
from cxloop.web.pages import (
    account,
    alerts,
    analytics,
    cases,
    customers,
    dashboards,
    distribution,
    respond,
    respond_theme,
    response_import,
    settings_config,
    surveys,
    text,
    workspace,
)
from cxloop.web.pages import settings as settings_pages
from cxloop.web.pages.assets import mount_assets
from cxloop.web.pages.render import SecurityHeaders, clear_session_cookie, login_redirect, render

# Texts people read on the error page, by status and by stable error code.
ERROR_TITLES = {
    400: N_("The request could not be understood"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("This action is not available here"),
    409: N_("The change conflicts with other data"),
    413: N_("The upload is too large"),
    422: N_("Some values are not valid"),
    429: N_("Too many requests"),
}
ERROR_MESSAGES = {
    "csrf_failed": N_("The form has expired. Go back, reload the page and try again."),
    "permission_denied": N_("Your role does not allow this action."),
    "not_found": N_("There is nothing at this address, or it is not visible to you."),
    "page_not_found": N_("There is nothing at this address, or it is not visible to you."),
    "token_not_found": N_("There is no such token, or it is not visible to you."),
    "unsupported_locale": N_("This language is not available."),
    "self_demotion": N_("You cannot take away your own admin role."),
}
GENERIC_ERROR = N_("Something went wrong")


def error_page(request: Request, error: AppError) -> Response:
    if error.status == 401:
        response: Response = login_redirect(request)
        if request.cookies:
            clear_session_cookie(request, response)
        return response
    title = ERROR_TITLES.get(error.status, GENERIC_ERROR)
    message = ERROR_MESSAGES.get(error.code) or ERROR_MESSAGES.get("not_found" if error.status == 404 else "")
    context = {
        "error_title": title,
        "error_message": message,
        "error_detail": error.detail,
        "status": error.status,
    }
    headers = {k: v for k, v in error.headers.items() if k.lower() in ("retry-after", "allow")}
    return render(request, "error.html", context, status=error.status, headers=headers or None)


def mount(app: FastAPI, settings: Settings) -> None:
    app.state.page_languages = build_languages(settings.default_locale)
    app.include_router(account.router)
    app.include_router(respond_theme.router)
    app.include_router(respond.router)
    app.include_router(workspace.router)
    app.include_router(surveys.router)
    app.include_router(response_import.router)
    app.include_router(customers.router)
    app.include_router(distribution.router)
    app.include_router(text.router)
    app.include_router(analytics.router)
    app.include_router(dashboards.router)
    app.include_router(cases.router)
    app.include_router(alerts.router)
    app.include_router(settings_pages.router)
    app.include_router(settings_config.router)
    mount_assets(app, settings)
    app.add_middleware(SecurityHeaders)


__all__ = ["error_page", "mount"]
