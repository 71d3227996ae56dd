"""HTTP plumbing every domain's routes share: the transaction boundary,
problem+json errors, request size limits and the DB session dependency.

The boundary lives in ``TransactionalRoute``: a route's handler runs inside
one session; a successful write request commits *before* the response is
sent, then hands the jobs it enqueued to the transport (after commit, never
before). Services therefore never commit.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop.kit.db import Database
from cxloop.kit.errors import AppError, Conflict, FieldError, PayloadTooLarge, ValidationFailed, invalid
from cxloop.kit.jobs import forget_enqueued, hand_off, take_enqueued
from cxloop.kit.writelock import WriteTurn, forget_held, hold, write_turn

log = logging.getLogger("cxloop.http")

PROBLEM_JSON = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

AfterCommit = Callable[[AsyncSession], Coroutine[Any, Any, None]]


def problem_response(error: AppError, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        error.to_problem(str(request.url.path) if request else None),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers or None,
    )


_FIELD_ERROR_SCHEMA = {
    "type": "object",
    "required": ["path", "message"],
    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable; clients may branch on it."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": _FIELD_ERROR_SCHEMA,
            "description": "On 422: what is wrong where.",
        },
    },
}
_PROBLEM_STATUSES = {
    401: "Missing, invalid, expired or revoked credentials",
    403: "The role or token does not allow this",
    404: "No such object, or not in the caller's scope",
    409: "Conflicts with existing data",
    413: "The request body is too large",
    422: "The request is not valid; see errors",
}
# Declared on every API operation, so that the schema tells the truth about
# error bodies (FastAPI's default 422 shape is not what clients receive).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    for status, text in _PROBLEM_STATUSES.items()
}


class TransactionalRoute(APIRoute):
    """Wraps each endpoint in a session; commits successful writes."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["responses"] = {**PROBLEM_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            refuse_nul_in_url(request)
            db: Database = request.app.state.db
            write = request.method not in SAFE_METHODS
            if write:
                await refuse_lone_surrogates(request)
            lazy = LazySession(db, write=write)
            request.state.lazy_session = lazy
            try:
                response = await inner(request)
            except BaseException:
                await lazy.abandon()
                raise
            job_ids: list[str] = []
            session = lazy.session
            if session is not None:
                try:
                    job_ids = await _finish(session, write, response)
                    # Committed: the pool's reset of the connection (a trip to
                    # aiosqlite's thread) need not hold up the next writer.
                    lazy.end_turn()
                finally:
                    try:
                        await session.close()
                    finally:
                        lazy.end_turn()
            if job_ids:
                await hand_off(db, request.app.state.transport, job_ids, mark_later=True)
            hooks: list[AfterCommit] = getattr(request.state, "after_request", [])
            for hook in hooks:
                try:
                    async with db.session(write=True) as follow_up:
                        await hook(follow_up)
                        await follow_up.commit()
                except Exception:
                    log.exception("after-request hook failed")
            return response

        return handler


def refuse_nul_in_url(request: Request) -> None:
    """PostgreSQL cannot store or compare text with NUL, SQLite can: refuse it up front on both."""
    query = request.scope.get("query_string", b"")
    path: str = request.scope.get("path", "")
    if "\x00" not in path and b"%00" not in query and b"\x00" not in query:
        return  # the common case, decided without building URL objects
    if "\x00" in path:
        raise invalid("path", "The path may not contain NUL characters.", code="invalid_text")
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise invalid(f"query.{name}", "Parameters may not contain NUL characters.", code="invalid_text")


# A JSON escape of a UTF-16 surrogate; paired ones (emoji from an ASCII-only
# encoder) are common, lone ones are what no UTF-8 text can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


async def refuse_lone_surrogates(request: Request) -> None:
    """A lone surrogate is valid JSON (an escape) but not text: neither database
    can store it and no answer can be written back with it. Refused up front,
    the whole body like malformed JSON, so nothing is half-written."""
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # kept on the request, which the endpoint reads again
    if _SURROGATE_ESCAPE.search(body) is None:
        return
    try:
        document = json.loads(body)
    except ValueError:
        return  # the endpoint answers malformed JSON itself
    for path in _unencodable(document, ""):
        message = "must be valid Unicode text (it holds a lone surrogate)"
        raise invalid(path or "body", message, code="invalid_text")


def _unencodable(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield from _unencodable(key, inner)
            yield from _unencodable(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unencodable(item, f"{path}.{index}" if path else str(index))


class LazySession:
    """The request's session, opened on first use.

    Requests answered from caches (an authenticated GET of /me) then cost no
    session at all; the boundary only commits or rolls back what was opened.
    """

    def __init__(self, db: Database, *, write: bool) -> None:
        self.db = db
        self.write = write
        self.session: AsyncSession | None = None
        self._turn: WriteTurn | None = None

    def get(self) -> AsyncSession:
        if self.session is None:
            self.session = self.db.new_session(write=self.write)
        return self.session

    async def open(self) -> AsyncSession:
        """The session, after waiting for this request's turn to write (SQLite only)."""
        if self.session is None and self.write and self._turn is None:
            turn = write_turn(self.db)
            if turn is not None:
                await turn.acquire()
                self._turn = turn
                hold(self.get(), turn, self.end_turn)
        return self.get()

    def end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            if self.session is not None:
                forget_held(self.session)
            turn.release()

    async def abandon(self) -> None:
        try:
            if self.session is not None:
                try:
                    await self.session.rollback()
                    forget_enqueued(self.session)
                finally:
                    await self.session.close()
        finally:
            self.end_turn()


async def _finish(session: AsyncSession, write: bool, response: Response) -> list[str]:
    """Commit a successful write (or a failure that asked to keep its record)."""
    commit = write and (response.status_code < 400 or session.info.get("commit_on_error", False))
    if not commit:
        await session.rollback()
        forget_enqueued(session)
        return []
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        forget_enqueued(session)
        raise Conflict(
            "The change conflicts with data saved at the same moment; retry.", code="concurrent_change"
        ) from exc
    return take_enqueued(session)


def run_after_request(request: Request, hook: AfterCommit) -> None:
    """Schedule best-effort bookkeeping in its own transaction after the request."""
    hooks: list[AfterCommit] = getattr(request.state, "after_request", [])
    hooks.append(hook)
    request.state.after_request = hooks


def request_session(request: Request) -> AsyncSession:
    lazy: LazySession = request.state.lazy_session
    return lazy.get()


async def get_session(request: Request) -> AsyncSession:
    lazy: LazySession = request.state.lazy_session
    return await lazy.open()


DbSession = Annotated[AsyncSession, Depends(get_session)]


def _loc_to_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    path = ""
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += ("." if path else "") + part
    return path or "body"


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Starlette names only the first route that matched the path; Allow must list them all."""
    scope = {k: v for k, v in request.scope.items() if k not in ("route", "endpoint", "path_params")}
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method})[0] == Match.FULL for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def _malformed(reason: str) -> ValidationFailed:
    message = f"The body is not valid JSON: {reason}."
    return ValidationFailed(message, code="malformed_json", errors=[FieldError("body", message)])


def install_error_handlers(
    app: Any, *, html_handler: Callable[[Request, AppError], Response] | None = None
) -> None:
    """problem+json for the API; pages may render their own error screen."""

    def wants_html(request: Request) -> bool:
        return html_handler is not None and not request.url.path.startswith(("/api/", "/openapi", "/healthz"))

    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        if wants_html(request):
            assert html_handler is not None
            return html_handler(request, exc)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:
            # The location of a JSON syntax error is a character offset, not a field path.
            reason = str((malformed[0].get("ctx") or {}).get("error", "invalid JSON"))
            return await on_app_error(request, _malformed(reason))
        errors = [
            FieldError(_loc_to_path(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in exc.errors()
        ]
        error = ValidationFailed("The request is not valid; see errors.", errors=errors)
        return await on_app_error(request, error)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's answer to a body that is not text: the same class of fault as malformed JSON.
            return await on_app_error(request, _malformed(f"not UTF-8 ({exc.__cause__.reason})"))
        titles = {
            404: ("not_found", "Not found"),
            405: ("method_not_allowed", "Method not allowed"),
            413: ("payload_too_large", "Payload too large"),
        }
        code, title = titles.get(exc.status_code, ("http_error", "HTTP error"))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        error = AppError(
            str(exc.detail) if exc.detail else title,
            code=code,
            status=exc.status_code,
            title=title,
            headers=headers,
        )
        return await on_app_error(request, error)

    async def on_locked(request: Request, exc: Exception) -> Response:
        log.warning("database busy: %s", exc)
        error = AppError(
            "The service is busy; retry shortly.",
            code="busy",
            status=503,
            title="Service busy",
            headers={"Retry-After": "1"},
        )
        return problem_response(error, request)

    async def on_data_error(request: Request, exc: Exception) -> Response:
        # The safety net for text PostgreSQL cannot hold (NUL) that reached a
        # query through a body the schemas do not check; other data errors are bugs.
        if "NUL" in str(exc) or getattr(getattr(exc, "orig", None), "sqlstate", None) == "22P05":
            error = invalid("body", "Text may not contain NUL characters.", code="invalid_text")
            return await on_app_error(request, error)
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = AppError(
            "Something went wrong on our side; it has been logged.",
            code="internal_error",
            status=500,
            title="Internal error",
        )
        return problem_response(error, request)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_locked)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(Exception, on_unexpected)


# A route that takes larger bodies (file uploads) says so in its
# ``openapi_extra``; the limit shows in the schema too.
BODY_LIMIT_KEY = "x-max-body-bytes"


def larger_body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that accepts bodies up to ``max_bytes``."""
    return {BODY_LIMIT_KEY: max_bytes}


class BodySizeLimit:
    """Refuse bodies over the limit, declared or streamed, before parsing.

    Routes may raise their own limit (``larger_body_limit``); they are looked
    up only for a body over the general limit, so other requests pay nothing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._larger: list[tuple[Any, set[str], int]] | None = None

    def _larger_limits(self, scope: Scope) -> list[tuple[Any, set[str], int]]:
        """(path regex, methods, limit) of the routes that raise the limit; routes are fixed once serving."""
        if self._larger is None:
            router = getattr(scope.get("app"), "router", None)
            found: list[tuple[Any, set[str], int]] = []
            for context in iter_route_contexts(getattr(router, "routes", [])):
                extra = getattr(context, "openapi_extra", None)
                regex = getattr(context, "path_regex", None)
                if extra and BODY_LIMIT_KEY in extra and regex is not None:
                    found.append((regex, set(context.methods or ()), int(extra[BODY_LIMIT_KEY])))
            self._larger = found
        return self._larger

    def _route_limit(self, scope: Scope) -> int:
        path, method = scope.get("path", ""), scope.get("method", "")
        for regex, methods, limit in self._larger_limits(scope):
            if method in methods and regex.match(path):
                return max(self.max_bytes, limit)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    limit = self._route_limit(scope)
                if declared < 0 or declared > limit:
                    await self._refuse(scope, send, limit)
                    return
        received = 0
        route_checked = limit != self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received, limit, route_checked
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not route_checked:
                    limit, route_checked = self._route_limit(scope), True
                if received > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        response = JSONResponse(error.to_problem(scope.get("path")), status_code=413, media_type=PROBLEM_JSON)
        await response(scope, _noop_receive, send)


class _TooLarge(StarletteHTTPException):
    """An HTTPException so that FastAPI's body parsing re-raises it instead of
    answering 400; the 413 handler (or BodySizeLimit itself) renders it."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body exceeds {max_bytes} bytes.")


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}
