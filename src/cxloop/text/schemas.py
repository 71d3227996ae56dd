"""Request and response bodies of the text API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cxloop.text.engine import TextAnalysis

MAX_TEXTS = 100
MAX_TEXT_CHARS = 100_000

Name = Annotated[
    dict[str, Annotated[str, StringConstraints(min_length=1, max_length=200)]],
    Field(min_length=1, max_length=10),
]
Words = (
    dict[str, list[Annotated[str, StringConstraints(min_length=1, max_length=100)]]]
    | list[Annotated[str, StringConstraints(min_length=1, max_length=100)]]
)


class AnalyzeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]] = Field(
        min_length=1, max_length=MAX_TEXTS
    )
    language: Literal["zh", "en"] | None = None


class TopicHitOut(BaseModel):
    topic_id: str
    path: str
    source: Literal["rule", "model", "manual"]
    confidence: float
    matched: list[str] = Field(description="Why: the words that matched, or that pulled the model there.")
    sentiment: str | None
    score: float | None = None


class AnalysisOut(BaseModel):
    language: str
    sentiment: Literal["negative", "neutral", "positive"]
    sentiment_score: float
    topics: list[TopicHitOut]
    keywords: list[str]
    phrases: list[str]
    urgency: list[str]
    pii: list[str]
    masked_text: str
    traditional: bool
    truncated: bool

    @classmethod
    def of(cls, result: TextAnalysis) -> AnalysisOut:
        return cls(
            language=result.language,
            sentiment=result.sentiment,
            sentiment_score=result.sentiment_score,
            topics=[
                TopicHitOut(
                    topic_id=h.topic_id,
                    path=h.path,
                    source=h.source,
                    confidence=h.confidence,
                    matched=h.matched,
                    sentiment=h.sentiment,
                    score=h.score,
                )
                for h in result.topics
            ],
            keywords=result.keywords,
            phrases=result.phrases,
            urgency=result.urgency,
            pii=result.pii,
            masked_text=result.masked_text,
            traditional=result.traditional,
            truncated=result.truncated,
        )


class AnalyzeOut(BaseModel):
    items: list[AnalysisOut]


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    parent_id: str | None = Field(default=None, max_length=26)
    keywords: Words | None = None
    exclude: Words | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    parent_id: str | None = Field(default=None, max_length=26)
    keywords: Words | None = None
    exclude: Words | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class TopicOut(BaseModel):
    id: str
    parent_id: str | None
    key: str | None
    name: dict[str, str]
    path: str
    keywords: dict[str, list[str]]
    exclude: dict[str, list[str]]
    position: int


class TopicList(BaseModel):
    items: list[TopicOut]


class CommentTopicOut(BaseModel):
    topic_id: str
    topic_path: str
    sentiment: str
    source: str
    confidence: float
    evidence: dict[str, Any]


class CommentOut(BaseModel):
    response_id: str
    question_id: str
    survey_id: str | None
    language: str
    sentiment: str
    sentiment_score: float
    urgency: list[str]
    keywords: list[str]
    phrases: list[str]
    pii: list[str]
    text: str = Field(
        description="The masked text (the original only where the tenant's policy keeps it and allows it)."
    )
    topics: list[CommentTopicOut]


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]
    applies: bool


class CorrectionOut(BaseModel):
    id: str
    response_id: str | None
    question_id: str | None
    topic_id: str
    applies: bool


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mask_pii: bool
    keep_original: bool = False
    #: Adapt the English model to the tenant's own comments as they accumulate.
    auto_adapt: bool = True


class SettingsOut(BaseModel):
    mask_pii: bool
    keep_original: bool
    auto_adapt: bool


class SuggestionOut(BaseModel):
    keyword: str
    related: list[str]
    comments: int
    examples: list[str]


class SuggestionList(BaseModel):
    items: list[SuggestionOut]


class TextModelOut(BaseModel):
    #: scored-zh, sentiment-en, prior-en, reader-en, topics, adapted (when adapting last ran).
    kind: str
    #: How many comments taught it (for ``adapted``: how many there were when it ran).
    examples: int
    trained_at: datetime
    #: Its main figures and strongest words (ADR 0018); the whole model stays in ``text_models``.
    summary: dict[str, Any]


class TextModelList(BaseModel):
    items: list[TextModelOut]
