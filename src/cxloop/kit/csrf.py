"""Signed double-submit CSRF protection for cookie-authenticated requests.

A random value lives in an HttpOnly cookie; forms and htmx requests carry
HMAC(secret, value). A cross-site page can neither read the cookie nor
forge the HMAC, and planting a cookie of its own does not help without the
secret. Tokens are bound to the cookie, which is rotated at login.
"""

from __future__ import annotations

import secrets

from cxloop.kit.security import keyed_digest, same

COOKIE = "cxloop_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def new_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret_key: str, cookie_value: str) -> str:
    return keyed_digest(secret_key, "csrf:" + cookie_value)


def valid(secret_key: str, cookie_value: str | None, presented: str | None) -> bool:
    if not cookie_value or not presented:
        return False
    return same(token_for(secret_key, cookie_value), presented)
