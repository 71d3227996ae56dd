"""Cases: closed-loop case management (states, assignment, SLA in business
hours, escalation, follow-up, reporting).

Other packages import only what is listed here.
"""

from cxloop.cases import metrics as _metrics  # noqa: F401  (registers the case metrics with analytics)
from cxloop.cases.events import (
    CASE_ASSIGNED,
    CASE_CREATED,
    CASE_ESCALATED,
    CASE_EVENTS,
    CASE_RESOLVED,
    CASE_UPDATED,
    CaseEventHandler,
    case_event_subscribers,
    subscribe_case_events,
    unsubscribe_case_events,
)
from cxloop.cases.models import Case, CaseEntry
from cxloop.cases.routes import router
from cxloop.cases.service import count_open_cases, open_case
from cxloop.cases.states import OPEN_STATUSES, PRIORITIES, STATUSES

__all__ = [
    "CASE_ASSIGNED",
    "CASE_CREATED",
    "CASE_ESCALATED",
    "CASE_EVENTS",
    "CASE_RESOLVED",
    "CASE_UPDATED",
    "OPEN_STATUSES",
    "PRIORITIES",
    "STATUSES",
    "Case",
    "CaseEntry",
    "CaseEventHandler",
    "case_event_subscribers",
    "count_open_cases",
    "open_case",
    "router",
    "subscribe_case_events",
    "unsubscribe_case_events",
]
