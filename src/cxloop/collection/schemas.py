"""Request and response bodies of the collection API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from cxloop.collection.validation import valid_email, valid_phone

MAX_BATCH = 1000


def _email(value: str) -> str:
    if not valid_email(value):
        raise ValueError("must be an email address")
    return value


def _phone(value: str) -> str:
    if not valid_phone(value):
        raise ValueError("must be a phone number")
    return value


def printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("may not contain control characters")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Strict):
    email: Annotated[str, Field(max_length=254), AfterValidator(_email)] | None = None
    phone: Annotated[str, Field(max_length=32), AfterValidator(_phone)] | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(printable)] | None = None


class ResponseIn(_Strict):
    answers: dict[str, Any] = Field(max_length=1000)
    unit_code: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)] | None = None
    channel: str = Field(default="api", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    touchpoint: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)] | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)
    submitted_at: AwareDatetime | None = None
    contact: ContactIn = Field(default_factory=ContactIn)
    embedded: dict[str, Any] = Field(default_factory=dict, max_length=100)


class BatchIn(_Strict):
    # Items are checked one by one, so that one malformed item fails only itself.
    responses: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class ErrorOut(BaseModel):
    path: str
    message: str


class BatchResult(BaseModel):
    index: int
    status: int
    id: str | None = None
    errors: list[ErrorOut] | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]


class ResponseOut(BaseModel):
    id: str
    survey_id: str
    survey_version: int
    unit_code: str | None
    channel: str
    touchpoint: str | None
    language: str
    submitted_at: datetime
    received_at: datetime
    answers: dict[str, Any]
    embedded: dict[str, Any]
    contact: dict[str, Any]
    source: str
    status: str
    # Respondent pages: the page a partial resumes at, its last save, and the personal link answered.
    resume_page: str | None = None
    updated_at: datetime | None = None
    link_id: str | None = None


class ResponsePage(BaseModel):
    items: list[ResponseOut]
    next_cursor: str | None
