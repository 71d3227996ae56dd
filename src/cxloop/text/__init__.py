"""Text analytics: language, sentiment, topics from a tenant taxonomy,
keywords, urgency flags and personal-data masking for open-text answers.

Other packages import only what is listed here.
"""

from cxloop.text.routes import router

__all__ = ["router"]
