"""Collection: responses to published surveys, checked against the version
answered, stored once, and handed to the post-commit pipeline. Other
packages import only what is listed here.
"""

from cxloop.collection.edit_tasks import RESPONSE_EDITED, subscribe_edits, unsubscribe_edits
from cxloop.collection.links import anonymous_query, link_id_from, personal_token
from cxloop.collection.models import Response, ResponseRevision, SurveyLink
from cxloop.collection.pipeline import (
    BACKGROUND,
    PROMPT,
    RESPONSE_STORED,
    RESPONSE_STORED_BACKGROUND,
    Subscriber,
    batch_response_ids,
    subscribe,
    subscribe_batch,
    subscribers,
    unsubscribe,
)
from cxloop.collection.routes import router

__all__ = [
    "BACKGROUND",
    "PROMPT",
    "RESPONSE_EDITED",
    "RESPONSE_STORED",
    "RESPONSE_STORED_BACKGROUND",
    "Response",
    "ResponseRevision",
    "Subscriber",
    "SurveyLink",
    "anonymous_query",
    "batch_response_ids",
    "link_id_from",
    "personal_token",
    "router",
    "subscribe",
    "subscribe_batch",
    "subscribe_edits",
    "subscribers",
    "unsubscribe",
    "unsubscribe_edits",
]
