"""Tables of the surveys domain: a survey and its numbered versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Survey(Base):
    """A survey; what it asks lives in its versions.

    ``current_version`` is the newest version (the one edits change while it
    is a draft); ``published_version`` the one respondents answer.
    """

    __tablename__ = "surveys"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The unit that owns the survey, if not the whole tenant.
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | published | closed
    current_version: Mapped[int] = mapped_column(Integer)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The user, or the service token, that created it.
    created_by: Mapped[str] = mapped_column(IdColumnType())

    __table_args__ = (Index(None, "tenant_id", "id"),)


class SurveyVersion(Base):
    """One version of a survey's definition; immutable once published."""

    __tablename__ = "survey_versions"

    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[Any] = mapped_column(JSONType)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
