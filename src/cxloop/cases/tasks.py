"""Job handlers of the cases domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
