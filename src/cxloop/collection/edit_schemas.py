"""Request and response bodies of audited response edits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cxloop.collection.models import ResponseRevision
from cxloop.collection.schemas import ResponseOut


def _reason(value: str) -> str:
    if not value.strip():
        raise ValueError("may not be blank")
    if any(not (character.isprintable() or character in "\n\t") for character in value):
        raise ValueError("may not contain control characters")
    return value


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Question id -> the new answer; null (or an empty answer) clears it.
    answers: dict[str, Any] = Field(min_length=1, max_length=1000)
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_reason)]


class RevisionOut(BaseModel):
    id: str
    response_id: str
    revision: int
    edited_at: datetime
    edited_by: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]

    @classmethod
    def of(cls, revision: ResponseRevision) -> RevisionOut:
        return cls(
            id=revision.id,
            response_id=revision.response_id,
            revision=revision.revision,
            edited_at=revision.edited_at,
            edited_by=revision.edited_by,
            reason=revision.reason,
            before=revision.before,
            after=revision.after,
        )


class EditOut(BaseModel):
    response: ResponseOut
    revision: RevisionOut | None = Field(description="The revision written; null when nothing changed.")


class RevisionPage(BaseModel):
    items: list[RevisionOut]
    next_cursor: str | None
