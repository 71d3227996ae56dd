"""Server-rendered pages (placeholder until the page layer lands)."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cxloop.kit.errors import AppError
from cxloop.kit.settings import Settings


def error_page(request: Request, error: AppError) -> Response:
    body = f"<!doctype html><title>{html.escape(error.title)}</title><h1>{html.escape(error.title)}</h1>"
    body += f"<p>{html.escape(error.detail)}</p>"
    return HTMLResponse(body, status_code=error.status, headers=error.headers or None)


def mount(app: FastAPI, settings: Settings) -> None:
    pass
