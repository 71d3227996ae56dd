"""Tables of the text domain.

``text_topics`` is the tenant's taxonomy (a tree by ``parent_id``);
``comment_analyses`` / ``comment_topics`` hold one row per analysed open-text
answer (tenant, response, question) and its topic assignments, rewritten
whole on every re-run; ``text_corrections`` are the team's one-click
corrections the topic model learns from; ``text_models`` the learned
parameters (JSON weights, not binaries); ``text_settings`` the per-tenant
masking policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class TextTopic(Base):
    __tablename__ = "text_topics"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("text_topics.id", ondelete="CASCADE"), nullable=True
    )
    key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # {"zh-CN": "...", "en": "..."}
    name: Mapped[Any] = mapped_column(JSONType)
    # {"zh": [...], "en": [...]}
    keywords: Mapped[Any] = mapped_column(JSONType)
    exclude: Mapped[Any] = mapped_column(JSONType)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "parent_id"),)


class CommentAnalysis(Base):
    __tablename__ = "comment_analyses"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    unit_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    sentiment: Mapped[str] = mapped_column(String(8))
    sentiment_score: Mapped[float] = mapped_column(Float)
    urgency: Mapped[Any] = mapped_column(JSONType)
    keywords: Mapped[Any] = mapped_column(JSONType)
    phrases: Mapped[Any] = mapped_column(JSONType)
    pii: Mapped[Any] = mapped_column(JSONType)
    # As the customer wrote it (Traditional stays Traditional), personal data masked.
    masked_text: Mapped[str] = mapped_column(Text)
    # Its Simplified fold when that differs, so a search in either script finds it.
    folded_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The unmasked text, only when the tenant's policy keeps it.
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    analyzed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(None, "tenant_id", "submitted_at"),
        Index(None, "tenant_id", "sentiment"),
        Index(None, "tenant_id", "language", "analyzed_at"),
    )


class CommentTopic(Base):
    __tablename__ = "comment_topics"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic_id: Mapped[str] = mapped_column(ForeignKey("text_topics.id", ondelete="CASCADE"), primary_key=True)
    topic_path: Mapped[str] = mapped_column(String(400))
    sentiment: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)
    # Why: the words that matched (rules) or pulled the model there.
    evidence: Mapped[Any] = mapped_column(JSONType)

    __table_args__ = (Index(None, "tenant_id", "topic_id"),)


class TextCorrection(Base):
    __tablename__ = "text_corrections"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    response_id: Mapped[str | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), nullable=True
    )
    question_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    topic_id: Mapped[str] = mapped_column(ForeignKey("text_topics.id", ondelete="CASCADE"))
    # True: the comment is about this topic; False: it is not.
    applies: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(IdColumnType())

    __table_args__ = (Index(None, "tenant_id", "topic_id"),)


class TextModel(Base):
    __tablename__ = "text_models"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    params: Mapped[Any] = mapped_column(JSONType)
    examples: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TextSettings(Base):
    __tablename__ = "text_settings"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    mask_pii: Mapped[bool] = mapped_column(Boolean, default=True)
    keep_original: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Re-adapt the English model to the tenant's comments as they accumulate (adapt.py).
    auto_adapt: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
