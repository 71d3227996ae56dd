"""Job handlers of the cases domain (imported by cxloop.worker.jobs).

Importing registers them: the case-event fan-out and delivery, the
escalation job (periodic, see PERIODIC_JOBS) and the recovery subscriber of
the collection pipeline (after customers', which resolves contacts first),
and the "cases" source of the customer timeline.
"""

from __future__ import annotations

from cxloop.cases import contact_timeline, escalation, events, recovery

__all__ = ["contact_timeline", "escalation", "events", "recovery"]
