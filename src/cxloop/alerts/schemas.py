"""Request and response bodies of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cxloop.alerts.models import Alert, AlertRule, Notification, NotificationChannel, Webhook, WebhookDelivery
from cxloop.alerts.targets import static_refusal
from cxloop.alerts.webhooks import EVENTS

Name = Field(min_length=1, max_length=200)


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Name
    # Checked by cxloop.alerts.rules (errors carry paths such as definition.condition.all[0].op).
    definition: dict[str, Any]
    enabled: bool = True


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    definition: dict[str, Any] | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: str
    name: str
    kind: str
    enabled: bool
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertRule) -> RuleOut:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            enabled=row.enabled,
            version=row.version,
            definition=row.definition,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | None = None
    rule_id: str | None = Field(default=None, max_length=26)
    days: int = Field(default=30, ge=1, le=366)
    limit: int = Field(default=1000, ge=1, le=10000)


class DryRunOut(BaseModel):
    evaluated: int = Field(description="Past responses looked at (newest first)")
    would_fire: int = Field(description="How many of them the rule would have fired on")
    response_ids: list[str] = Field(description="Up to 20 of those responses, newest first")


class AlertOut(BaseModel):
    id: str
    rule_id: str
    rule_version: int
    kind: str
    priority: str
    title: str
    response_id: str | None
    unit_code: str | None
    case_id: str | None
    summary: dict[str, Any]
    fired_at: datetime

    @classmethod
    def of(cls, row: Alert, unit_code: str | None) -> AlertOut:
        return cls(
            id=row.id,
            rule_id=row.rule_id,
            rule_version=row.rule_version,
            kind=row.kind,
            priority=row.priority,
            title=row.title,
            response_id=row.response_id,
            unit_code=unit_code,
            case_id=row.case_id,
            summary=row.summary,
            fired_at=row.fired_at,
        )


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class VolumeRow(BaseModel):
    day: str
    rule_id: str
    kind: str
    alerts: int
    with_case: int


class VolumeOut(BaseModel):
    days: int
    total: int
    rows: list[VolumeRow]


def _http_url(value: str) -> str:
    refused = static_refusal(value)
    if refused is not None:
        raise ValueError(refused)
    return value


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    events: list[Literal[EVENTS]] = Field(min_length=1, max_length=len(EVENTS))  # type: ignore[valid-type]
    # Generated when left out; returned once.
    secret: str | None = Field(default=None, min_length=16, max_length=200)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    secret: str | None = Field(default=None, description="Only in the answer that created the webhook")

    @classmethod
    def of(cls, row: Webhook, *, secret: str | None = None) -> WebhookOut:
        return cls(
            id=row.id,
            url=row.url,
            events=list(row.events),
            enabled=row.enabled,
            created_at=row.created_at,
            secret=secret,
        )


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=row.id,
            webhook_id=row.webhook_id,
            event=row.event,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            attempt_log=list(row.attempt_log),
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Name
    kind: Literal["apprise", "sms", "email"]
    config: dict[str, Any]
    language: Literal["zh-CN", "en"] | None = None


class ChannelOut(BaseModel):
    id: str
    name: str
    kind: str
    language: str | None
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, row: NotificationChannel) -> ChannelOut:
        # The config holds robot keys and passwords: never returned.
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            language=row.language,
            enabled=row.enabled,
            created_at=row.created_at,
        )


class ChannelPage(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None


class NotificationOut(BaseModel):
    id: str
    alert_id: str
    medium: str
    recipient: str
    language: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: Notification, recipient: str) -> NotificationOut:
        return cls(
            id=row.id,
            alert_id=row.alert_id,
            medium=row.medium,
            recipient=recipient,
            language=row.language,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
