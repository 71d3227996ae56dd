"""Tables of the distribution domain."""

from __future__ import annotations
