"""``cxloop analytics rebuild``: rebuild the KPI rollups from stored responses.

The rebuild commits in batches with a checkpoint; interrupted, it resumes
where the last batch ended (``--fresh`` starts over). Responses stored while
it runs are counted by the pipeline as usual, and counted once.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cxloop.analytics.rollups import rebuild
from cxloop.cli.common import TenantOption, run_async
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings

analytics_app = typer.Typer(no_args_is_help=True, help="Analytics: rollups of the fixed KPIs.")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to ``app``."""
    app.add_typer(analytics_app, name="analytics")


@analytics_app.command("rebuild")
def rebuild_command(
    tenant: TenantOption = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over instead of resuming.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=100, max=100_000, help="Responses per commit.")] = 5000,
) -> None:
    """Rebuild the NPS/CSAT/CES rollups (resumable; shows progress)."""
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        typer.echo(f"{done:,}/{total:,} responses ({done / max(total, 1):.0%}, {rate:,.0f}/s)", err=True)

    async def work(db: Database, settings: Settings) -> int:
        async with db.session(write=False) as session:
            tenant_id = (await find_tenant(session, tenant)).id
        return await rebuild(db, tenant_id, fresh=fresh, batch=batch, progress=progress)

    processed = run_async(work)
    typer.echo(f"rollups rebuilt: {processed:,} responses processed in {time.monotonic() - started:.1f}s")
