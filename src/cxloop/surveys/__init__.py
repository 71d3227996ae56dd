"""Surveys: the versioned survey definition, its logic and piping, and the
survey lifecycle (draft, published, closed). Other packages import only
what is listed here.
"""

from cxloop.surveys.conditions import Comparison, Condition, Facts, evaluate
from cxloop.surveys.definition import SurveyDefinition, definition_schema, parse_definition, text_in
from cxloop.surveys.models import Survey, SurveyVersion
from cxloop.surveys.piping import render
from cxloop.surveys.published import cached_published_definition, published_definition
from cxloop.surveys.routes import router
from cxloop.surveys.service import CLOSED, DRAFT, PUBLISHED, TEMPLATE_IDS

__all__ = [
    "CLOSED",
    "DRAFT",
    "PUBLISHED",
    "TEMPLATE_IDS",
    "Comparison",
    "Condition",
    "Facts",
    "Survey",
    "SurveyDefinition",
    "SurveyVersion",
    "cached_published_definition",
    "definition_schema",
    "evaluate",
    "parse_definition",
    "published_definition",
    "render",
    "router",
    "text_in",
]
