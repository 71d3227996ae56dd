"""Commands of the alerts capability: ``cxloop alerts metrics`` (what the periodic job does,
now) and ``cxloop alerts check FILE`` (validate a rule definition, with paths)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cxloop.cli.common import fail, run_async
from cxloop.kit.db import Database
from cxloop.kit.errors import ValidationFailed
from cxloop.kit.settings import Settings

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: metric rules and rule definitions.")


def register(app: typer.Typer) -> None:
    """Add this capability's commands to ``app``."""
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("metrics")
def metrics_command() -> None:
    """Evaluate every enabled metric rule now (the worker does this every 5 minutes)."""
    from cxloop.alerts.metric import run_metric_rules

    async def work(db: Database, settings: Settings) -> int:
        async with db.session(write=True) as session:
            fired = await run_metric_rules(session)
            await session.commit()
        # Notifications wait in the outbox; a worker's relay sends them.
        return fired

    typer.echo(f"{run_async(work)} metric alert(s) fired")


@alerts_app.command("check")
def check_command(path: Annotated[Path, typer.Argument(help="A JSON file with one rule definition")]) -> None:
    """Validate a rule definition the way POST /api/v1/alert-rules does."""
    from cxloop.alerts import parse_rule

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read {path}: {exc}", code=2)
    try:
        rule = parse_rule(raw)
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(f"{error.path}: {error.message}", err=True)
        fail(exc.detail, code=2)
    typer.echo(f"ok: a {rule.kind} rule")
