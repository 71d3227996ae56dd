"""Request and response bodies of the cases API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "acknowledged", "in_progress", "resolved", "closed"]
IdText = Annotated[str, Field(min_length=1, max_length=64)]


def printable(value: str) -> str:
    if not value.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        raise ValueError("may not contain control characters")
    return value


Comment = Annotated[str, Field(min_length=1, max_length=10_000), AfterValidator(printable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=300), AfterValidator(printable)]
    priority: Priority = "normal"
    unit_code: IdText
    response_id: IdText | None = None
    contact_id: IdText | None = None
    owner_id: IdText | None = None
    comment: Comment | None = None


class CasePatch(_Strict):
    priority: Priority | None = None
    root_cause_code: IdText | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(default=None, max_length=20)


class TransitionIn(_Strict):
    to: Status
    comment: Comment | None = None
    follow_up_survey_id: IdText | None = None


class CommentIn(_Strict):
    body: Comment
    internal: bool = False


class AssignmentIn(_Strict):
    owner_id: IdText | None
    comment: Comment | None = None


class BulkIn(_Strict):
    ids: list[IdText] = Field(min_length=1, max_length=100)
    action: Literal["assign", "transition"]
    to: Status | None = None
    owner_id: IdText | None = None
    comment: Comment | None = None


class BulkResult(BaseModel):
    id: str
    status: int
    code: str | None = None


class BulkOut(BaseModel):
    results: list[BulkResult]


class PersonOut(BaseModel):
    id: str
    name: str


class CaseOut(BaseModel):
    id: str
    number: int
    title: str
    status: Status
    priority: Priority
    source: str
    unit_code: str | None
    unit_name: str | None
    owner: PersonOut | None
    escalated_to: PersonOut | None
    escalation_level: int
    response_id: str | None
    contact_id: str | None
    rule_id: str | None
    root_cause_code: str | None
    tags: list[str]
    initial_score: int | None
    later_score: int | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_due_at: datetime | None
    resolve_due_at: datetime | None
    due_at: datetime | None
    overdue: bool
    allowed_transitions: list[str]


class EntryOut(BaseModel):
    id: str
    at: datetime
    kind: str
    actor_user_id: str | None
    actor: str | None
    from_value: str | None
    to_value: str | None
    body: str | None
    internal: bool
    details: dict[str, Any]


class CaseResponseOut(BaseModel):
    id: str
    survey_id: str
    channel: str
    language: str
    submitted_at: datetime
    answers: Any
    embedded: Any


class CaseDetailOut(CaseOut):
    timeline: list[EntryOut]
    response: CaseResponseOut | None
    follow_up_invitation_id: str | None


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class RootCauseIn(_Strict):
    code: IdText
    names: dict[Annotated[str, Field(max_length=35)], Annotated[str, Field(min_length=1, max_length=200)]] = (
        Field(min_length=1, max_length=20)
    )
    parent_code: IdText | None = None


class RootCausePatch(_Strict):
    names: (
        dict[Annotated[str, Field(max_length=35)], Annotated[str, Field(min_length=1, max_length=200)]] | None
    ) = Field(default=None, min_length=1, max_length=20)
    parent_code: IdText | None = None
    active: bool | None = None


class SlaPolicyIn(_Strict):
    acknowledge_minutes: int = Field(ge=1, le=525_600)
    resolve_minutes: int = Field(ge=1, le=525_600)
    escalate_every_minutes: int = Field(default=60, ge=5, le=525_600)
    business_hours: bool = True


class CalendarIn(_Strict):
    hours: dict[str, list[list[str]]] = Field(max_length=7)
    holidays: list[str] = Field(default_factory=list, max_length=400)
    workdays: list[str] = Field(default_factory=list, max_length=400)
