"""``cxloop demo``: migrate, seed the demo tenant, serve web + worker in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cxloop.cli.common import console, fail, plain, redact_url, run_async
from cxloop.customers import crypto
from cxloop.demo import seed_demo
from cxloop.demo.identity import DEMO_PASSWORD, demo_logins
from cxloop.demo.registry import DEFAULT_RESPONSE_COUNT, SeedResult
from cxloop.kit import migrate
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings, get_settings
from cxloop.text import engine


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False, help="Where the SQLite database and job queue live (default: ./cxloop-data)."
        ),
    ] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Migrate and seed, then exit.")] = False,
    responses: Annotated[
        int,
        typer.Option(
            min=0, max=2_000_000, help="How many historical survey responses a new demo tenant gets."
        ),
    ] = DEFAULT_RESPONSE_COUNT,
) -> None:
    """Run the demo: a Chinese retail chain with a login for every role."""
    settings = prepare_settings(data_dir)
    url = settings.effective_database_url
    typer.echo(f"database: {redact_url(url)}")
    try:
        migrate.upgrade(url)
    except Exception as error:
        fail(f"cannot migrate the database: {str(getattr(error, 'orig', error)).strip().splitlines()[0]}")

    def report_step(name: str, seconds: float) -> None:
        typer.echo(f"demo step {name}: {seconds:.1f} s")

    async def work(db: Database, _settings: Settings) -> SeedResult:
        return await seed_demo(db, response_count=responses, on_step=report_step)

    result = run_async(work, settings)
    if result.ran:
        typer.echo(f"seeded the demo tenant '{result.tenant_slug}': {', '.join(result.ran)}")
    if result.skipped:
        typer.echo(f"kept the existing demo data: {', '.join(result.skipped)}")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only for the printed URL
    base_url = f"http://{shown_host}:{port}/"
    print_logins(base_url)
    if no_serve:
        return
    serve_demo(settings, host, port)


def prepare_settings(data_dir: Path | None) -> Settings:
    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The seed steps run before any app exists: point the field keys and the
    # text models at this data dir, as the server started afterwards will.
    crypto.configure(settings)
    engine.configure(engine.text_model_dir(settings))
    return settings


def print_logins(base_url: str) -> None:
    table = Table("role", "who", "email", "password")
    for person in demo_logins():
        table.add_row(*plain(person.role, person.title, person.email, DEMO_PASSWORD))
    console().print(table)
    typer.echo(f"open {base_url} and log in as any of them (API docs: {base_url}api/docs)")


def serve_demo(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from cxloop.web import create_app

    # One process: the web app and its embedded job worker.
    uvicorn.run(create_app(settings, start_worker=True), host=host, port=port, log_level="info")
