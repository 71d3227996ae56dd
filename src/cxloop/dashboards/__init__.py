"""Dashboards: role-based dashboard definitions, widgets, sharing within scope,
reports and exports.

Other packages import only what is listed here.
"""

from cxloop.dashboards.routes import router

__all__ = ["router"]
