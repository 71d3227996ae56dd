"""Job handlers of the analytics domain (imported by cxloop.worker.jobs).

Rollups follow the post-commit pipeline: every stored response and every
audited edit refreshes its share of the rollups inside the pipeline job.
"""

from __future__ import annotations

from cxloop.analytics.rollups import on_response
from cxloop.collection import subscribe, subscribe_edits

subscribe("analytics.rollup")(on_response)
subscribe_edits("analytics.rollup")(on_response)
