"""HTTP plumbing every domain's routes share: the transaction boundary,
problem+json errors, request size limits and the DB session dependency.

The boundary lives in ``TransactionalRoute``: a route's handler runs inside
one session; a successful write request commits *before* the response is
sent, then hands the jobs it enqueued to the transport (after commit, never
before). Services therefore never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxloop.kit.db import Database
from cxloop.kit.errors import AppError, Conflict, PayloadTooLarge, ValidationFailed, FieldError
from cxloop.kit.jobs import forget_enqueued, hand_off, take_enqueued

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


class TransactionalRoute(APIRoute):
    """Wraps each endpoint in a session; commits successful writes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            db: Database = request.app.state.db
            write = request.method not in SAFE_METHODS
            async with db.session(write=write) as session:
                request.state.session = session
                try:
                    response = await inner(request)
                except BaseException:
                    await session.rollback()
                    forget_enqueued(session)
                    raise
                commit = write and (response.status_code < 400 or session.info.get("commit_on_error", False))
                if commit:
                    try:
                        await session.commit()
                    except IntegrityError as exc:
                        await session.rollback()
                        forget_enqueued(session)
                        raise Conflict(
                            "The change conflicts with data saved at the same moment; retry.",
                            code="concurrent_change",
                        ) from exc
                else:
                    await session.rollback()
                    forget_enqueued(session)
                job_ids = take_enqueued(session) if commit else []
                hooks: list[AfterCommit] = session.info.pop("after_request", [])
            if job_ids:
                await hand_off(db, request.app.state.transport, job_ids)
            for hook in hooks:
                try:
                    async with db.session(write=True) as follow_up:
                        await hook(follow_up)
                        await follow_up.commit()
                except Exception:
                    log.exception("after-request hook failed")
            return response

        return handler


def run_after_request(session: AsyncSession, hook: AfterCommit) -> None:
    """Schedule best-effort bookkeeping in its own transaction after the request."""
    session.info.setdefault("after_request", []).append(hook)


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


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


def install_error_handlers(app: Any, *, html_handler: Callable[[Request, AppError], Response] | None = None) -> None:
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
        errors = [FieldError(_loc_to_path(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in exc.errors()]
        error = ValidationFailed("The request is not valid; see errors.", errors=errors)
        return await on_app_error(request, error)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: ("not_found", "Not found"), 405: ("method_not_allowed", "Method not allowed")}
        code, title = titles.get(exc.status_code, ("http_error", "HTTP error"))
        error = AppError(
            str(exc.detail) if exc.detail else title, code=code, status=exc.status_code, title=title,
            headers=dict(exc.headers or {}),
        )
        return await on_app_error(request, error)

    async def on_locked(request: Request, exc: Exception) -> Response:
        log.warning("database busy: %s", exc)
        error = AppError(
            "The service is busy; retry shortly.", code="busy", status=503, title="Service busy",
            headers={"Retry-After": "1"},
        )
        return problem_response(error, request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = AppError(
            "Something went wrong on our side; it has been logged.", code="internal_error", status=500,
            title="Internal error",
        )
        return problem_response(error, request)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_locked)
    app.add_exception_handler(Exception, on_unexpected)


class BodySizeLimit:
    """Refuse bodies over the limit, declared or streamed, before parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        error = PayloadTooLarge(f"The request body exceeds {self.max_bytes} bytes.")
        response = JSONResponse(error.to_problem(scope.get("path")), status_code=413, media_type=PROBLEM_JSON)
        await response(scope, _noop_receive, send)


class _TooLarge(Exception):
    pass


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}
