"""Job handlers of the customers domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
