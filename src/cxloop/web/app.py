"""Application factory: one app object for ``cxloop serve``, demo and tests."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

import cxloop
from cxloop import models  # noqa: F401 - registers every table on the metadata
from cxloop.alerts import router as alerts_router
from cxloop.analytics import router as analytics_router
from cxloop.cases import router as cases_router
from cxloop.collection import router as collection_router
from cxloop.collection.edit_routes import router as response_edit_router
from cxloop.collection.export_routes import router as response_export_router
from cxloop.collection.import_routes import router as response_import_router
from cxloop.collection.link_routes import router as links_router
from cxloop.customers import router as customers_router
from cxloop.dashboards import router as dashboards_router
from cxloop.distribution import router as distribution_router
from cxloop.identity import AUTH_CHANNEL, WATCHED_AUTH_STATE, use_change_watcher
from cxloop.identity import router as identity_router
from cxloop.kit.db import Database
from cxloop.kit.http import BodySizeLimit, install_error_handlers
from cxloop.kit.invalidation import ChangeWatcher
from cxloop.kit.settings import Settings, get_settings
from cxloop.ops.routes import router as ops_router
from cxloop.surveys import router as surveys_router
from cxloop.text import router as text_router
from cxloop.web import pages
from cxloop.worker import EmbeddedWorker, make_huey, make_transport
from cxloop.worker.jobs import load_job_handlers

log = logging.getLogger("cxloop.web")

API_DESCRIPTION = """\
The cxloop API. Send `Authorization: Bearer <token>` (create one with
`cxloop tokens create --email ...` or on the Tokens page). Errors are
`application/problem+json` with a stable `code`; lists take `limit` and
`cursor` and answer `{items, next_cursor}`; creating POSTs honour an
`Idempotency-Key` header.
"""


def create_app(settings: Settings | None = None, *, start_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    load_job_handlers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.effective_database_url, echo=settings.sql_echo)
        huey = None if settings.jobs_immediate else make_huey(settings)
        app.state.db = db
        app.state.settings = settings
        app.state.secret_key = settings.effective_secret_key()
        transport = make_transport(settings, db, huey)
        app.state.transport = transport
        watcher = ChangeWatcher(
            settings.effective_database_url, channel=AUTH_CHANNEL, sqlite_query=WATCHED_AUTH_STATE
        )
        await watcher.start()
        use_change_watcher(watcher)
        worker: EmbeddedWorker | None = None
        run_worker = settings.runs_embedded_worker if start_worker is None else start_worker
        if huey is not None and run_worker:
            worker = EmbeddedWorker(huey, settings.effective_database_url)
            worker.start()
        # What start-up loaded (~270k objects: modules, models, routes) lives as long
        # as the app. Left in the collector's oldest generation, every full pass walks
        # it, ~0.1 s on a quiet 2-core machine with every request of this process
        # waiting: that was the tail at a steady 500 submissions/s (ADR 0031).
        # Frozen, those passes see only what requests left behind.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if worker is not None:
                worker.stop()
            use_change_watcher(None)
            await watcher.stop()
            await transport.aclose()  # the one made here (tests may swap app.state's)
            await db.dispose()

    app = FastAPI(
        title="cxloop API",
        version=cxloop.__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app, html_handler=pages.error_page)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    @app.get("/healthz", tags=["system"], summary="Liveness", response_model=dict[str, Any])
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": cxloop.__version__})

    app.include_router(identity_router)
    app.include_router(ops_router)
    app.include_router(surveys_router)
    app.include_router(collection_router)
    app.include_router(links_router)
    app.include_router(response_import_router)
    app.include_router(response_export_router)
    app.include_router(response_edit_router)
    app.include_router(customers_router)
    app.include_router(distribution_router)
    app.include_router(text_router)
    app.include_router(analytics_router)
    app.include_router(dashboards_router)
    app.include_router(cases_router)
    app.include_router(alerts_router)
    pages.mount(app, settings)
    return app
