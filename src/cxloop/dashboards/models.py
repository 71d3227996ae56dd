"""Tables of the dashboards domain."""

from __future__ import annotations
