"""Tables of the collection domain: stored answer sheets, the personal links
that lead to them, and the audited revisions of a response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Response(Base):
    """One answer sheet to a published survey version.

    ``status`` is ``complete`` or ``partial``: the respondent pages save each
    page as it is answered, and only a complete response is handed to the
    post-commit pipeline. A complete response changes only through an audited
    edit (``ResponseRevision``), which bumps ``revision``. The fields filters
    use are real, indexed columns.
    """

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
    # The page a partial response resumes at (None once complete).
    resume_page: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The personal link answered, if any (at most one response per link).
    link_id: Mapped[str | None] = mapped_column(
        ForeignKey("survey_links.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    # A keyed hash of an anonymous browser's cookie, for "one response per browser".
    browser_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index(None, "tenant_id", "survey_id", "submitted_at"),
        Index(None, "unit_id"),
        Index(None, "survey_id", "browser_key"),
    )


class SurveyLink(Base):
    """A personal, single-use link to a survey, for one contact.

    The URL carries this row's id signed with the installation's secret, so
    it cannot be guessed or forged; what the link sets (unit, channel,
    touchpoint, embedded fields, the contact) lives here, not in the URL.
    """

    __tablename__ = "survey_links"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    embedded: Mapped[Any] = mapped_column(JSONType)
    contact_ref: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(IdColumnType())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index(None, "tenant_id", "survey_id"),)


class ResponseRevision(Base):
    """One audited edit of a stored response: who, when, why, and the answers before and after."""

    __tablename__ = "response_revisions"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_by: Mapped[str] = mapped_column(IdColumnType())
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[Any] = mapped_column(JSONType)
    after: Mapped[Any] = mapped_column(JSONType)

    __table_args__ = (Index(None, "response_id", "revision", unique=True),)
