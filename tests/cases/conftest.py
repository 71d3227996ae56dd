"""The page tests' fixtures, shared from tests/web."""

from __future__ import annotations

from tests.web.conftest import signed_in

__all__ = ["signed_in"]
