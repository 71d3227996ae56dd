"""The ``cxloop`` command line. Each module adds one group of commands."""

from __future__ import annotations

from cxloop.cli import check, db, demo, exports, imports, org, runtime, tokens, users
from cxloop.cli.common import app

for module in (demo, runtime, db, org, users, tokens, imports, exports, check):
    module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
