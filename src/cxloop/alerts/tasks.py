"""Job handlers of the alerts domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
