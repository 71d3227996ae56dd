"""Analytics: metrics (NPS, CSAT, CES, expectation gaps, custom formulas),
significance tests, key drivers, the metrics query engine and its rollups.

Other packages import only what is listed here.
"""

from cxloop.analytics.routes import router

__all__ = ["router"]
