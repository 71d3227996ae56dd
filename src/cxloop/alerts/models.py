"""Tables of the alerts domain.

What each row proves (and does not):

- ``AlertRule``: a rule as data (its validated ``definition``); ``version`` grows with
  every change, so an alert names the exact rule version that fired.
- ``AlertConfigVersion``: one counter per tenant, bumped by every change to rules or
  webhooks, so the per-process compiled rule cache is checked with one primary-key read
  per response instead of loading the rules.
- ``Alert``: a rule fired for one subject. ``subject_key`` is the response id (response
  rules) or ``<unit id>@<window start>`` (metric rules); the unique index makes "one alert
  per rule and response / unit and window" a database fact, not a hope.
- ``Notification``: one message to one recipient over one medium; sent by an outbox job
  after the commit that created it. A row in ``sent`` proves the server accepted it.
- ``Webhook`` / ``WebhookDelivery``: a subscription and one event for it. The delivery id
  is sent with every attempt, so a receiver can drop duplicates; ``attempt_log`` keeps each
  try (when, status, error).

Secrets are sealed (AES-GCM under the field key ring, kit/crypto.py): a webhook's
signing secret (``secret_enc``) and a channel's whole settings (``config_enc``: robot
keys in apprise URLs, gateway tokens, SMTP passwords and the recipients). Each value
names its key and is bound to its tenant, table, column and row; key rotation
re-encrypts them (kit/sealed.py). See docs/adr/0032-configuration-secrets-sealed-with-the-field-keys.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit import sealed
from cxloop.kit.crypto import aad
from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # "response" or "metric"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "kind", "enabled"),)


class AlertConfigVersion(Base):
    __tablename__ = "alert_config_versions"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    rule_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(80))
    response_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    contact_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    priority: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    # What the message shows: key answers, the comment, the metric figures.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    case_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("tenant_id", "rule_id", "subject_key"),
        Index(None, "tenant_id", "fired_at"),
        Index(None, "response_id"),
    )


class NotificationChannel(Base):
    """A named place to send to: an apprise URL (WeCom robot, DingTalk, Feishu, Slack...),
    an SMS gateway, an SMTP server. Rules name channels as "groups"."""

    __tablename__ = "alert_channels"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # "apprise", "sms", "email"
    # The settings as sealed JSON: only the sending code opens them (alerts/channels.py).
    config_enc: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class Notification(Base):
    __tablename__ = "alert_notifications"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    medium: Mapped[str] = mapped_column(String(16))  # "email", "sms", "apprise"
    channel_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    recipient: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    language: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))  # pending, sent, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("alert_id", "medium", "recipient"),
        Index(None, "tenant_id", "created_at"),
    )


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    # The signing secret, sealed: it is opened to sign a delivery and never returned by the API.
    secret_enc: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id"),)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    # e.g. "case.created:<case id>": one delivery per webhook and event occurrence.
    event_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(12))  # pending, delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_key"),
        Index(None, "tenant_id", "created_at"),
    )


def channel_config_place(row: NotificationChannel) -> str:
    return aad(row.tenant_id, "alert_channels", "config", row.id)


def webhook_secret_place(row: Webhook) -> str:
    return aad(row.tenant_id, "webhooks", "secret", row.id)


sealed.register(NotificationChannel, "config_enc", channel_config_place)
sealed.register(Webhook, "secret_enc", webhook_secret_place)
