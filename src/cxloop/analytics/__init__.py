"""Analytics: metrics (NPS, CSAT, CES, expectation gaps, custom formulas),
significance tests, key drivers, the metrics query engine and its rollups.

Other packages import only what is listed here.
"""

from cxloop.analytics.query import run_metrics_query
from cxloop.analytics.registry import MetricProvider, ProviderRequest, register_metric_provider
from cxloop.analytics.routes import router
from cxloop.analytics.schemas import DriversQuery, MetricsQuery
from cxloop.analytics.service import run_drivers
from cxloop.analytics.text_insights import TextOptions, rising_phrases, topic_impact, topic_trends

__all__ = [
    "DriversQuery",
    "MetricProvider",
    "MetricsQuery",
    "ProviderRequest",
    "TextOptions",
    "register_metric_provider",
    "rising_phrases",
    "router",
    "run_drivers",
    "run_metrics_query",
    "topic_impact",
    "topic_trends",
]
