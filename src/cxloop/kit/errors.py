"""Errors that carry their HTTP meaning, rendered as RFC 9457 problem+json.

Domains raise these; the web layer turns them into responses and the CLI
into a message and a non-zero exit. ``code`` is a stable, documented token
that clients may branch on; ``title`` and ``detail`` are for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM_BASE = "https://cxloop.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str


class AppError(Exception):
    """Subclasses fix status, default code and title; instances may override."""

    status: int = 400
    default_code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.errors = errors or []
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors or self.status == 422:
            body["errors"] = [{"path": e.path, "message": e.message} for e in self.errors]
        return body


class BadRequest(AppError):
    pass


class Unauthenticated(AppError):
    status = 401
    default_code = "unauthenticated"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    default_code = "forbidden"
    title = "Not allowed"


class NotFound(AppError):
    status = 404
    default_code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    default_code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    default_code = "payload_too_large"
    title = "Payload too large"


class ValidationFailed(AppError):
    status = 422
    default_code = "validation_failed"
    title = "Validation failed"


class RateLimited(AppError):
    status = 429
    default_code = "rate_limited"
    title = "Too many requests"


def not_found(kind: str) -> NotFound:
    """The same answer for "does not exist" and "exists but not yours"."""
    return NotFound(f"No such {kind}.", code=f"{kind.replace(' ', '_')}_not_found")


def invalid(path: str, message: str, code: str = "validation_failed") -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(path, message)])


def refuse_control_characters(path: str, text: str) -> None:
    """A name may not hold NUL (PostgreSQL cannot store it) or other control characters (they break pages)."""
    if not text.isprintable():
        raise invalid(path, "A name may not contain control characters.", code="invalid_text")
