"""Dashboards: role-based dashboard definitions, widgets, sharing within scope,
reports and exports.

Other packages import only what is listed here.
"""

from cxloop.dashboards.models import Dashboard, ReportSchedule
from cxloop.dashboards.routes import router
from cxloop.dashboards.schemas import DashboardDefinition, Widget

__all__ = ["Dashboard", "DashboardDefinition", "ReportSchedule", "Widget", "router"]
