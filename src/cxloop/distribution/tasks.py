"""Job handlers of the distribution domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
