"""Commands of the cases capability: ``cxloop cases escalate`` (what the
scheduled job does, now) and ``cxloop cases report`` (the report as JSON)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cxloop.cli.common import TenantOption, operator, run_async
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings

cases_app = typer.Typer(no_args_is_help=True, help="Cases: escalation and reporting.")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to ``app``."""
    app.add_typer(cases_app, name="cases")


@cases_app.command("escalate")
def escalate_command() -> None:
    """Escalate every case whose SLA is breached now (the worker does this each minute)."""
    from cxloop.cases.escalation import escalate_due

    async def work(db: Database, settings: Settings) -> int:
        async with db.session(write=True) as session:
            count = await escalate_due(session)
            await session.commit()
        # The case events wait in the outbox; a worker's relay sends them.
        return count

    typer.echo(f"{run_async(work)} case(s) escalated")


@cases_app.command("report")
def report_command(
    tenant: TenantOption = None,
    unit: Annotated[
        str | None, typer.Option("--unit", metavar="CODE", help="Only this unit's subtree.")
    ] = None,
) -> None:
    """Print the case report (volume, times, SLA compliance, recovery, root causes) as JSON."""
    from cxloop.cases.report import case_report
    from cxloop.identity.tenants import find_tenant

    async def work(db: Database, settings: Settings) -> dict[str, object]:
        async with db.session(write=False) as session:
            owner = await find_tenant(session, tenant)
            return await case_report(session, operator(owner.id), unit_code=unit)

    typer.echo(json.dumps(run_async(work), ensure_ascii=False, indent=2))
