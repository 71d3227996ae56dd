"""Alerts: response and metric alert rules, their actions, notifications over
many channels and signed webhooks.

Other packages import only what is listed here.
"""

from cxloop.alerts.routes import router

__all__ = ["router"]
