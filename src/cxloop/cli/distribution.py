"""Commands of the distribution capability: ``cxloop distribution tick`` (what
the periodic job does, now) and ``cxloop distribution status`` (invitations
by status)."""

from __future__ import annotations

import json

import typer
from sqlalchemy import func, select

from cxloop.cli.common import run_async
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings

distribution_app = typer.Typer(no_args_is_help=True, help="Distribution: due sends and delivery status.")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to ``app``."""
    app.add_typer(distribution_app, name="distribution")


@distribution_app.command("tick")
def tick_command() -> None:
    """Release what is due now (quiet hours over, retries, trigger delays, campaigns, reminders).

    The worker does this every 15 seconds; the deliveries it enqueues wait in
    the outbox until a worker's relay sends them.
    """
    from cxloop.distribution.tick import tick

    async def work(db: Database, settings: Settings) -> dict[str, int]:
        async with db.session(write=True) as session:
            done = await tick(session)
            await session.commit()
        return done

    typer.echo(json.dumps(run_async(work)))


@distribution_app.command("status")
def status_command() -> None:
    """Invitations by status, all tenants (JSON)."""
    from cxloop.distribution.models import Invitation

    async def work(db: Database, settings: Settings) -> dict[str, int]:
        async with db.session(write=False) as session:
            found = await session.execute(select(Invitation.status, func.count()).group_by(Invitation.status))
            return {status: int(count) for status, count in found.all()}

    typer.echo(json.dumps(run_async(work), sort_keys=True))
