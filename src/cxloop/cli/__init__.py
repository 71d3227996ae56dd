"""The ``cxloop`` command line. Each module adds one group of commands."""

from __future__ import annotations

from cxloop.cli import (
    alerts,
    analytics,
    cases,
    check,
    contacts,
    dashboards,
    db,
    demo,
    distribution,
    exports,
    imports,
    org,
    runtime,
    text,
    tokens,
    users,
)
from cxloop.cli.common import app

for module in (
    demo,
    runtime,
    db,
    org,
    users,
    tokens,
    imports,
    exports,
    check,
    contacts,
    distribution,
    text,
    analytics,
    dashboards,
    cases,
    alerts,
):
    module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
