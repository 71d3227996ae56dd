"""``cxloop dashboards``: a dashboard as a file (what a scheduled report would
mail), rendered as the person named, with their scope."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from sqlalchemy import select

from cxloop.cli.common import fail, run_async
from cxloop.dashboards.reports import principal_for_user, render_report
from cxloop.dashboards.service import resolve
from cxloop.identity import User
from cxloop.kit.db import Database
from cxloop.kit.errors import not_found
from cxloop.kit.settings import Settings

dashboards_app = typer.Typer(no_args_is_help=True, help="Dashboards: render one as a PDF or XLSX report.")


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("report")
def dashboards_report(
    *,
    email: Annotated[str, typer.Option(help="The person whose view (and scope) the report shows.")],
    out: Annotated[Path, typer.Option(help="The file to write.", dir_okay=False, writable=True)],
    dashboard: Annotated[
        str, typer.Option(metavar="ID", help="A dashboard id, or 'default' for the person's role default.")
    ] = "default",
    format: Annotated[str, typer.Option(help="pdf or xlsx.")] = "pdf",
    period: Annotated[str, typer.Option(help="7d, 30d, 90d, 12m, ytd or all.")] = "30d",
) -> None:
    """Write a dashboard report as the person would get it by email."""
    if format not in ("pdf", "xlsx"):
        fail("--format must be pdf or xlsx", 2)
    if period not in ("7d", "30d", "90d", "12m", "ytd", "all"):
        fail("--period must be one of 7d, 30d, 90d, 12m, ytd, all", 2)
    chosen: Literal["pdf", "xlsx"] = "pdf" if format == "pdf" else "xlsx"

    async def work(db: Database, settings: Settings) -> int:
        async with db.session(write=False) as session:
            user = await session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None or not user.is_active:
                raise not_found("user")
            principal = await principal_for_user(session, user)
            locale = user.locale or settings.default_locale
            view = await resolve(session, principal, dashboard, None, locale)
            filters = view.definition.filters.model_copy(update={"period": period})
            rendered = await render_report(session, principal, view, filters, locale, chosen)
        out.write_bytes(rendered.content)
        return len(rendered.content)

    size = run_async(work)
    typer.echo(f"wrote {out} ({size} bytes)")
