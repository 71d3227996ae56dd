"""Job handlers of the dashboards domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
