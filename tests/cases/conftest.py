"""The page and command tests' fixtures, shared from tests/web and tests/cli."""

from __future__ import annotations

from tests.cli.conftest import cli
from tests.web.conftest import signed_in

__all__ = ["cli", "signed_in"]
