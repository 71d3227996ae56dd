"""Text analytics: language, sentiment, topics from a tenant taxonomy,
keywords, urgency flags and personal-data masking for open-text answers.

Other packages import only what is listed here. ``analyze_texts`` is pure
and loads the models in the calling process: call it from workers, not from
a web request (``cxloop.text.runner`` keeps them in a child process).
"""

from cxloop.text.engine import TextAnalysis, analyze_texts
from cxloop.text.models import CommentAnalysis, CommentTopic
from cxloop.text.normalize import to_simplified
from cxloop.text.routes import router
from cxloop.text.service import response_text_facts, searchable_text
from cxloop.text.topics import TopicHit

__all__ = [
    "CommentAnalysis",
    "CommentTopic",
    "TextAnalysis",
    "TopicHit",
    "analyze_texts",
    "response_text_facts",
    "router",
    "searchable_text",
    "to_simplified",
]
