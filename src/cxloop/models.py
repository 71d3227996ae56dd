"""Every table of every domain, imported for Alembic and the schema tests.

A new domain adds its models module here; nothing else needs to know.
"""

from cxloop.alerts import models as alerts_models
from cxloop.analytics import models as analytics_models
from cxloop.cases import models as cases_models
from cxloop.collection import models as collection_models
from cxloop.customers import models as customers_models
from cxloop.dashboards import models as dashboards_models
from cxloop.distribution import models as distribution_models
from cxloop.identity import models as identity_models
from cxloop.kit import idempotency, jobs
from cxloop.kit.db import Base
from cxloop.ops import models as ops_models
from cxloop.surveys import models as surveys_models
from cxloop.text import models as text_models

metadata = Base.metadata

__all__ = [
    "alerts_models",
    "analytics_models",
    "cases_models",
    "collection_models",
    "customers_models",
    "dashboards_models",
    "distribution_models",
    "idempotency",
    "identity_models",
    "jobs",
    "metadata",
    "ops_models",
    "surveys_models",
    "text_models",
]
