"""Every table of every domain, imported for Alembic and the schema tests.

A new domain adds its models module here; nothing else needs to know.
"""

from cxloop.collection import models as collection_models
from cxloop.identity import models as identity_models
from cxloop.kit import idempotency, jobs
from cxloop.kit.db import Base
from cxloop.ops import models as ops_models
from cxloop.surveys import models as surveys_models

metadata = Base.metadata

__all__ = [
    "collection_models",
    "idempotency",
    "identity_models",
    "jobs",
    "metadata",
    "ops_models",
    "surveys_models",
]
