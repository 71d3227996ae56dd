"""The ``cxloop`` command (placeholder until the CLI lands)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="cxloop: open-source customer-experience management.")


@app.command()
def version() -> None:
    """Print the version."""
    import cxloop

    typer.echo(cxloop.__version__)


def main() -> None:
    app()
