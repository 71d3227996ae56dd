"""Request and response bodies of the distribution API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from cxloop.distribution.models import Invitation

Id = Annotated[str, Field(min_length=1, max_length=26, pattern=r"^[0-9A-Za-z_-]+$")]
Channel = Literal["email", "sms", "wechat", "wecom"]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("may not contain control characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
Label = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]
Embedded = dict[
    Annotated[str, Field(max_length=64)],
    Annotated[str, Field(max_length=500)] | int | FiniteFloat | bool | None,
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvitationIn(Strict):
    contact_id: Id
    survey_id: Id
    channel: Channel | None = None
    touchpoint: Label | None = None
    embedded: Embedded = Field(default_factory=dict, max_length=100)
    respect_frequency: bool = True
    expires_at: AwareDatetime | None = None


class AttemptOut(BaseModel):
    send_no: int
    attempt: int
    idempotency_key: str
    provider: str
    outcome: str
    error: str | None
    provider_message_id: str | None
    at: datetime


class InvitationOut(BaseModel):
    id: str
    survey_id: str
    contact_id: str
    channel: str | None
    status: str
    skip_reason: str | None
    reason: str
    touchpoint: str | None
    campaign_id: str | None
    trigger_id: str | None
    created_at: datetime
    due_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    responded_at: datetime | None
    expires_at: datetime | None
    attempts: int
    reminders_sent: int
    provider_message_id: str | None
    last_error: str | None
    short_path: str | None
    attempts_log: list[AttemptOut] | None = None

    @classmethod
    def of(cls, row: Invitation, attempts: list[AttemptOut] | None = None) -> InvitationOut:
        return cls(
            id=row.id,
            survey_id=row.survey_id,
            contact_id=row.contact_id,
            channel=row.channel,
            status=row.status,
            skip_reason=row.skip_reason,
            reason=row.reason,
            touchpoint=row.touchpoint,
            campaign_id=row.campaign_id,
            trigger_id=row.trigger_id,
            created_at=row.created_at,
            due_at=row.due_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            responded_at=row.responded_at,
            expires_at=row.expires_at,
            attempts=row.attempts,
            reminders_sent=row.reminders_sent,
            provider_message_id=row.provider_message_id,
            last_error=row.last_error,
            short_path=f"/i/{row.code}" if row.code else None,
            attempts_log=attempts,
        )


class InvitationPage(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None


class ChannelIn(Strict):
    provider: Literal["smtp", "aliyun", "tencent", "twilio", "http", "wechat_mp", "wecom"]
    config: dict[Annotated[str, Field(max_length=64)], str | int | float | bool | None] = Field(max_length=40)
    enabled: bool = True


class ChannelOut(BaseModel):
    channel: str
    provider: str
    config: dict[str, Any]
    enabled: bool
    updated_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelOut]


def _default_order() -> list[Channel]:
    return ["wechat", "sms", "email"]


class PolicyIn(Strict):
    quiet_start: HHMM | None = None
    quiet_end: HHMM | None = None
    fallback_order: list[Channel] = Field(default_factory=_default_order, max_length=4)

    @model_validator(mode="after")
    def _both_or_neither(self) -> PolicyIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet_start and quiet_end go together")
        if len(set(self.fallback_order)) != len(self.fallback_order):
            raise ValueError("fallback_order names a channel twice")
        return self


class PolicyOut(BaseModel):
    quiet_start: str | None
    quiet_end: str | None
    fallback_order: list[str]


class RuleIn(Strict):
    name: Name
    survey_id: Id | None = None
    channel: Channel | None = None
    attribute: Label | None = None
    attribute_value: Annotated[str, AfterValidator(_printable)] | int | float | bool | None = None
    max_count: int = Field(ge=1, le=1000)
    period_days: int = Field(ge=1, le=3660)


class RuleOut(BaseModel):
    id: str
    name: str
    survey_id: str | None
    channel: str | None
    attribute: str | None
    attribute_value: Any
    max_count: int
    period_days: int
    created_at: datetime


class RuleList(BaseModel):
    items: list[RuleOut]


class BounceIn(Strict):
    message_id: Annotated[str, Field(min_length=3, max_length=255)]
    kind: Literal["hard", "soft", "complaint"] = "hard"
    diagnostic: Annotated[str, Field(max_length=1000)] | None = None


class ReceiptIn(Strict):
    message_id: Annotated[str, Field(min_length=1, max_length=255)]
    status: Literal["delivered", "failed", "undelivered"]
    error: Annotated[str, Field(max_length=500)] | None = None


class StopIn(Strict):
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    text: Annotated[str, Field(max_length=500)]
