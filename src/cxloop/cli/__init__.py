"""The ``cxloop`` command line. Each module adds one group of commands."""

from __future__ import annotations

from cxloop.cli import runtime
from cxloop.cli.common import app

runtime.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
