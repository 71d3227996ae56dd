"""Tables of the distribution domain: invitations and their delivery
attempts, channel configurations, frequency rules and the tenant's sending
policy, triggers with their due-time runs, campaigns, and web intercepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit import sealed
from cxloop.kit.crypto import aad
from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime

# Invitation statuses. ``scheduled`` waits for its due time (quiet hours, a
# trigger's delay); ``queued`` has a delivery job; ``retrying`` waits for its
# backoff after a provider fault; ``skipped`` was never sent (see skip_reason).
SCHEDULED, QUEUED, RETRYING, SENT, DELIVERED = "scheduled", "queued", "retrying", "sent", "delivered"
BOUNCED, FAILED, STARTED, COMPLETED, UNSUBSCRIBED, SKIPPED = (
    "bounced",
    "failed",
    "started",
    "completed",
    "unsubscribed",
    "skipped",
)
STATUSES = (
    SCHEDULED,
    QUEUED,
    RETRYING,
    SENT,
    DELIVERED,
    BOUNCED,
    FAILED,
    STARTED,
    COMPLETED,
    UNSUBSCRIBED,
    SKIPPED,
)
# Statuses that count against contact-frequency rules: the person was (or is
# about to be) asked. Skipped and failed sends reached nobody.
COUNTED = (SCHEDULED, QUEUED, RETRYING, SENT, DELIVERED, STARTED, COMPLETED, UNSUBSCRIBED, BOUNCED)
PENDING = (SCHEDULED, QUEUED, RETRYING)


class Invitation(Base):
    """One survey invitation to one contact, from a campaign, a trigger or a call."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(IdColumnType())
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reason: Mapped[str] = mapped_column(String(64))
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    embedded: Mapped[Any] = mapped_column(JSONType)
    link_id: Mapped[str | None] = mapped_column(
        ForeignKey("survey_links.id", ondelete="SET NULL"), nullable=True
    )
    # The short link's code (``/i/{code}``): random, unguessable, unique.
    code: Mapped[str | None] = mapped_column(String(24), nullable=True, unique=True)
    campaign_id: Mapped[str | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True
    )
    trigger_id: Mapped[str | None] = mapped_column(
        ForeignKey("triggers.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Delivery tries of the current send (initial or reminder); reset per send.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # 0 = the initial send, n = the n-th reminder; part of the idempotency key.
    send_no: Mapped[int] = mapped_column(Integer, default=0)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(None, "tenant_id", "contact_id", "created_at"),
        Index(None, "status", "due_at"),
        Index(None, "tenant_id", "campaign_id"),
        Index(None, "tenant_id", "created_at"),
        Index(None, "provider_message_id"),
        Index(None, "link_id"),
    )


class DeliveryAttempt(Base):
    """One try to hand an invitation to its provider; the key is what the
    provider sees (Message-ID, OutId, SessionContext, Idempotency-Key), the
    same on every retry of one send so a provider that dedupes never doubles."""

    __tablename__ = "delivery_attempts"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    invitation_id: Mapped[str] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    send_no: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "invitation_id", "send_no", "attempt", unique=True),)


class ChannelConfig(Base):
    """A tenant's provider settings for one channel (email, sms, wechat, wecom).

    ``config`` holds the settings as the API shows them: every secret that is set
    appears there only as the mask; the secrets themselves (passwords, app and API
    secrets, tokens) are sealed together as JSON in ``secrets_enc`` (key id and
    AES-GCM, bound to the tenant and row), opened only to build the sending adapter
    (providers.py). ``secrets_enc`` is NULL when no secret is set."""

    __tablename__ = "channel_configs"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    config: Mapped[Any] = mapped_column(JSONType)
    secrets_enc: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "channel", unique=True),)


def channel_secrets_place(row: ChannelConfig) -> str:
    return aad(row.tenant_id, "channel_configs", "secrets", row.id)


sealed.register(ChannelConfig, "secrets_enc", channel_secrets_place)


class FrequencyRule(Base):
    """At most ``max_count`` invitations per ``period_days`` to one contact,
    for every survey or one, every channel or one, every contact or those
    whose ``attribute`` equals ``attribute_value``. All matching rules apply."""

    __tablename__ = "frequency_rules"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    survey_id: Mapped[str | None] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    attribute: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attribute_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    max_count: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id"),)


class SendingPolicy(Base):
    """Per tenant: quiet hours (local to each contact) and the channel fallback order."""

    __tablename__ = "sending_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    fallback_order: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Trigger(Base):
    """An event type plus conditions -> a survey through a channel after a delay."""

    __tablename__ = "triggers"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(64))
    conditions: Mapped[Any] = mapped_column(JSONType)
    # Checked again against the contact when the delay is over (a workflow's "wait, then re-check").
    recheck: Mapped[Any] = mapped_column(JSONType)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "event_type"),)


class TriggerRun(Base):
    """One event that matched a trigger, due at event time + delay."""

    __tablename__ = "trigger_runs"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    trigger_id: Mapped[str] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    payload: Mapped[Any] = mapped_column(JSONType)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(120), nullable=True)
    invitation_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(None, "trigger_id", "event_id", unique=True),
        Index(None, "status", "due_at"),
    )


class Campaign(Base):
    """A one-off send to a segment or list (now or scheduled), or a recurring
    relationship survey that asks each contact once per cadence."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    segment_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    contact_ids: Mapped[Any] = mapped_column(JSONType)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cadence_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reminder_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_reminders: Mapped[int] = mapped_column(Integer, default=0)
    link_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index(None, "tenant_id", "created_at"), Index(None, "status", "starts_at"))


class CampaignMember(Base):
    """A contact of a recurring campaign and when it is next due; the offsets
    spread the audience evenly over the cadence."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "next_due_at"),)


class Intercept(Base):
    """A website / in-app survey prompt: where (URL pattern), when (delay), how often (sampling)."""

    __tablename__ = "intercepts"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    url_pattern: Mapped[str] = mapped_column(String(300))
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    sampling_pct: Mapped[int] = mapped_column(Integer, default=100)
    # At most one prompt per visitor in this many days.
    once_per_days: Mapped[int] = mapped_column(Integer, default=30)
    unit_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    touchpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InterceptView(Base):
    """A prompt shown to a visitor (a keyed hash of the visitor id), for frequency."""

    __tablename__ = "intercept_views"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    intercept_id: Mapped[str] = mapped_column(ForeignKey("intercepts.id", ondelete="CASCADE"))
    visitor: Mapped[str] = mapped_column(String(64))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "intercept_id", "visitor", "shown_at"),)
