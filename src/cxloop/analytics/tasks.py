"""Job handlers of the analytics domain (imported by cxloop.worker.jobs).

Rollups follow the post-commit pipeline: every stored response and every
audited edit refreshes its share of the rollups inside the pipeline job; a
drained batch of stored responses is refreshed with one set-based
``refresh_responses`` (a handful of statements for the whole batch).
"""

from __future__ import annotations

from cxloop.analytics.rollups import on_response, on_responses
from cxloop.collection import subscribe_batch, subscribe_edits

subscribe_batch("analytics.rollup")(on_responses)
subscribe_edits("analytics.rollup")(on_response)
