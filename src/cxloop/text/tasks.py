"""Job handlers of the text domain (imported by cxloop.worker.jobs)."""

from __future__ import annotations
