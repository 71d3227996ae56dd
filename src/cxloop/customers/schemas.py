"""Request and response bodies of the customers API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from cxloop.customers.segments import SegmentFilter

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Names = dict[
    Annotated[str, StringConstraints(max_length=35)], Annotated[str, StringConstraints(max_length=200)]
]
MAX_BATCH = 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Strict):
    identities: dict[
        Annotated[str, StringConstraints(max_length=32)], Annotated[str, Field(max_length=320)]
    ] = Field(max_length=8)
    verified: list[str] = Field(default_factory=list, max_length=8)
    name: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=35)
    timezone: str | None = Field(default=None, max_length=64)
    unit_code: Code | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] | None = Field(default=None, max_length=50)


class IdentityOut(BaseModel):
    kind: str
    value: str
    verified: bool


class ContactOut(BaseModel):
    id: str
    unit_code: str | None
    language: str | None
    timezone: str | None
    name: str | None
    first_name: str | None
    attributes: dict[str, Any]
    tags: list[str]
    identities: list[IdentityOut]
    source: str
    created_at: datetime
    updated_at: datetime


class ContactSummary(BaseModel):
    id: str
    unit_code: str | None
    name: str | None
    email: str | None
    phone: str | None
    tags: list[str]
    created_at: datetime


class ContactPage(BaseModel):
    items: list[ContactSummary]
    next_cursor: str | None


class MergeIn(_Strict):
    merge_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]


class ConsentIn(_Strict):
    channel: str = Field(max_length=16)
    purpose: str = Field(default="survey", max_length=32)
    granted: bool
    source: str = Field(default="api", max_length=32)
    policy_version: str | None = Field(default=None, max_length=32)


class ConsentRecordOut(BaseModel):
    id: str
    channel: str
    purpose: str
    granted: bool
    source: str
    policy_version: str | None
    recorded_at: datetime


class ConsentOut(BaseModel):
    contact_id: str
    state: dict[str, dict[str, bool]]
    records: list[ConsentRecordOut]


class ConsentPolicyIn(_Strict):
    opt_in_channels: list[str] = Field(max_length=5)
    policy_version: str | None = Field(default=None, max_length=32)


class ConsentPolicyOut(BaseModel):
    opt_in_channels: list[str]
    policy_version: str | None


class AttributeDefinitionIn(_Strict):
    key: Key
    type: Literal["text", "number", "date", "boolean", "list"]
    label: Names = Field(default_factory=dict)


class AttributeDefinitionOut(BaseModel):
    key: str
    type: str
    label: dict[str, str]


class EventTypeIn(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    description: str | None = Field(default=None, max_length=500)


class EventTypeOut(BaseModel):
    name: str
    description: str | None
    created_at: datetime


class EventContact(_Strict):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    wechat_openid: str | None = Field(default=None, max_length=128)
    wechat_unionid: str | None = Field(default=None, max_length=128)
    wecom_userid: str | None = Field(default=None, max_length=128)
    alipay_user_id: str | None = Field(default=None, max_length=128)
    member_id: str | None = Field(default=None, max_length=128)
    external_id: str | None = Field(default=None, max_length=128)


class EventIn(_Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    occurred_at: AwareDatetime | None = None
    contact: EventContact = Field(default_factory=EventContact)
    unit_code: Code | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=200)


class EventBatchIn(_Strict):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class EventOut(BaseModel):
    id: str
    external_id: str
    type: str
    occurred_at: datetime
    contact_id: str | None
    unit_code: str | None
    attributes: dict[str, Any]
    replayed: bool = False


class TimelineEntryOut(BaseModel):
    at: datetime
    kind: str
    title: str
    detail: dict[str, Any]
    ref: str | None


class TimelineOut(BaseModel):
    contact_id: str
    items: list[TimelineEntryOut]


class TouchpointIn(_Strict):
    key: Key
    name: Names = Field(default_factory=dict)


class StageIn(_Strict):
    key: Key
    name: Names = Field(default_factory=dict)
    touchpoints: list[TouchpointIn] = Field(default_factory=list, max_length=50)


class JourneyIn(_Strict):
    key: Key
    name: Names = Field(min_length=1)
    stages: list[StageIn] = Field(default_factory=list, max_length=30)


class JourneyOut(BaseModel):
    id: str
    key: str
    name: dict[str, str]
    stages: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class SegmentIn(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    filter: SegmentFilter


class SegmentPreviewIn(_Strict):
    filter: SegmentFilter


class SegmentOut(BaseModel):
    id: str
    name: str
    filter: dict[str, Any]
    count: int
    created_at: datetime
    updated_at: datetime


class CountOut(BaseModel):
    count: int
