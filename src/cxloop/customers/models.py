"""Tables of the customers domain.

Personal values (names, every identity) are stored only encrypted
(``*_enc``: key id + AES-GCM ciphertext, see crypto.py); identities are
found by their blind index. Consent records are append-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Contact(Base):
    """A person the tenant knows. ``merged_into`` marks a record folded into another."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(32))
    merged_into: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "unit_id"), Index(None, "tenant_id", "merged_into"))


class ContactIdentity(Base):
    """One identity of a contact: unique per tenant and kind through its blind index."""

    __tablename__ = "contact_identities"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    blind_index: Mapped[str] = mapped_column(String(64))
    value_enc: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(None, "tenant_id", "kind", "blind_index", unique=True),
        Index(None, "contact_id"),
    )


class AttributeDefinition(Base):
    """The type of a contact attribute, per tenant: text, number, date, boolean or list."""

    __tablename__ = "contact_attribute_definitions"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "key", unique=True),)


class ContactMerge(Base):
    """A record of one contact folded into another (identity resolution or by hand)."""

    __tablename__ = "contact_merges"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    survivor_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    merged_id: Mapped[str] = mapped_column(IdColumnType())
    reason: Mapped[str] = mapped_column(String(32))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_by: Mapped[str | None] = mapped_column(String(320), nullable=True)

    __table_args__ = (Index(None, "survivor_id"),)


class ConsentRecord(Base):
    """Append-only: the latest record per (contact, channel, purpose) is in force."""

    __tablename__ = "consent_records"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "contact_id", "channel", "purpose", "id"),)


class ConsentPolicy(Base):
    """Per tenant: the channels that need an explicit opt-in before any send."""

    __tablename__ = "consent_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    opt_in_channels: Mapped[list[str]] = mapped_column(JSONType)
    policy_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventType(Base):
    """An event type a tenant sends (``order_delivered``); unknown types are refused."""

    __tablename__ = "event_types"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "name", unique=True),)


class ContactEvent(Base):
    """Something that happened to a contact. ``external_id`` is the sender's id (idempotency)."""

    __tablename__ = "contact_events"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True
    )
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index(None, "tenant_id", "external_id", unique=True),
        Index(None, "contact_id", "occurred_at"),
        Index(None, "tenant_id", "type", "occurred_at"),
    )


class Journey(Base):
    """A journey with ordered stages, each with touchpoints (labels for invitations and responses)."""

    __tablename__ = "journeys"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict[str, str]] = mapped_column(JSONType)
    # [{"key", "name": {locale: text}, "touchpoints": [{"key", "name"}]}], in order.
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "key", unique=True),)


class Segment(Base):
    """A saved, structured filter over contacts (validated JSON, never evaluated as code)."""

    __tablename__ = "segments"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    filter: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index(None, "tenant_id", "name", unique=True),)


class ContactResponse(Base):
    """Which contact gave a stored response (filled by the pipeline subscriber)."""

    __tablename__ = "contact_responses"

    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(IdColumnType())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "contact_id", "submitted_at"), Index(None, "tenant_id", "survey_id"))
