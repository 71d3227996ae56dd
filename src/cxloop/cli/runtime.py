"""Running cxloop: ``serve`` (web) and ``worker`` (jobs)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Annotated

import typer

from cxloop.kit.settings import get_settings

# HTTP clients that log every request's full URL at INFO. Providers take credentials in
# query strings (WeCom's corpsecret, WeChat's secret and access_token, a robot key in an
# SMS gateway's URL); those are sealed at rest (ADR 0032) and must not reach the log.
QUIET_LOGGERS = ("httpx", "httpcore")


def configure_logging() -> None:
    """The worker's log: INFO and up, less the HTTP clients' request lines."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Web processes.")] = 1,
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips (behind a reverse proxy).")
    ] = True,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers count.")
    ] = "127.0.0.1",
    access_log: Annotated[
        bool, typer.Option(help="Log every request (the reverse proxy often does this already).")
    ] = True,
) -> None:
    """Serve the web app and API. Without a broker, jobs run in-process too."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and settings.is_sqlite and settings.runs_embedded_worker:
        typer.echo("note: each web process runs an embedded worker; they share the SQLite job queue.")
    uvicorn.run(
        "cxloop.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        log_level="info",
        # uvicorn kills a worker that has not answered its health ping within 5 s,
        # and importing the app takes longer on a busy 2-core machine: with
        # --workers 2 the children were killed and restarted forever.
        timeout_worker_healthcheck=60,
    )


def worker(
    threads: Annotated[int, typer.Option(min=1, max=64, help="Worker threads in this process.")] = 2,
) -> None:
    """Run jobs from the queue (Redis when CXLOOP_REDIS_URL is set) and the outbox relay.

    Stops on SIGTERM or Ctrl-C after the jobs in progress finish.
    """
    from cxloop import models  # noqa: F401 - jobs register with their domains
    from cxloop.kit.migrate import current_heads, script_heads
    from cxloop.worker import EmbeddedWorker, make_huey
    from cxloop.worker.jobs import load_job_handlers

    settings = get_settings()
    try:
        up_to_date = current_heads(settings.effective_database_url) == script_heads()
    except Exception as error:  # the operator needs the reason, not a traceback
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or ["unknown error"])[0]
        typer.secho(f"error: cannot use the database: {reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if not up_to_date:
        typer.secho(
            "error: the database schema is not up to date; run `cxloop db upgrade` first",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    configure_logging()
    load_job_handlers()
    huey = make_huey(settings)
    runner = EmbeddedWorker(huey, settings.effective_database_url, threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    broker = "redis" if settings.redis_url else f"sqlite ({settings.data_dir / 'jobs.db'})"
    logging.getLogger("cxloop.worker").info(
        "worker pid %d started: %d thread(s), broker %s", os.getpid(), threads, broker
    )
    runner.start()
    while not stop.wait(1.0):
        pass
    logging.getLogger("cxloop.worker").info("worker pid %d stopping", os.getpid())
    runner.stop()
