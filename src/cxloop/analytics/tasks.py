"""Job handlers of the analytics domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
