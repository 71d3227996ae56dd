"""The responses table: one stored answer sheet to a published survey version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Response(Base):
    """Immutable once stored; the fields filters use are real, indexed columns."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    survey_version: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str] = mapped_column(String(35))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answers: Mapped[Any] = mapped_column(JSONType)
    embedded: Mapped[Any] = mapped_column(JSONType)
    # The identities the submitter gave ({"email": ...}); the customer directory comes later.
    contact_ref: Mapped[Any] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index(None, "tenant_id", "survey_id", "submitted_at"),
        Index(None, "unit_id"),
    )
