"""Cases: closed-loop case management (states, assignment, SLA in business
hours, escalation, follow-up, reporting).

Other packages import only what is listed here.
"""

from cxloop.cases.routes import router

__all__ = ["router"]
