"""Request and response bodies of the surveys API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cxloop.surveys.definition import LANGUAGE_PATTERN, text_in
from cxloop.surveys.models import SurveyVersion
from cxloop.surveys.service import SurveyView, template_document


class SurveyCreate(BaseModel):
    """Either a definition, or a template (optionally in a default language)."""

    model_config = ConfigDict(extra="forbid")

    # Checked by cxloop.surveys.definition (its schema is GET /api/v1/schemas/survey),
    # so that errors carry document paths.
    definition: dict[str, Any] | None = None
    template: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN)
    unit_code: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_source(self) -> SurveyCreate:
        if (self.definition is None) == (self.template is None):
            raise ValueError("give either definition or template")
        if self.language is not None and self.template is None:
            raise ValueError("language applies to a template only")
        return self


class SurveyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any]


class SurveyOut(BaseModel):
    id: str
    status: str
    version: int = Field(description="The newest version (a draft while it is not published)")
    version_published: bool
    published_version: int | None = Field(description="The version respondents answer")
    unit_code: str | None
    title: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str

    @classmethod
    def of(cls, view: SurveyView, locale: str | None) -> SurveyOut:
        survey, current = view.survey, view.current
        definition: dict[str, Any] = current.definition
        default = str(definition.get("default_language", ""))
        return cls(
            id=survey.id,
            status=survey.status,
            version=current.version,
            version_published=current.published_at is not None,
            published_version=survey.published_version,
            unit_code=view.unit_code,
            title=text_in(definition.get("title"), locale or default, default),
            definition=definition,
            created_at=survey.created_at,
            updated_at=survey.updated_at,
            created_by=survey.created_by,
        )


class SurveyPage(BaseModel):
    items: list[SurveyOut]
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    published_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, version: SurveyVersion) -> VersionOut:
        return cls(version=version.version, published_at=version.published_at, created_at=version.created_at)


class VersionList(BaseModel):
    items: list[VersionOut]
    next_cursor: str | None = None


class TemplateOut(BaseModel):
    id: str
    title: dict[str, str]
    description: dict[str, str] | None
    languages: list[str]
    question_count: int

    @classmethod
    def of(cls, template_id: str) -> TemplateOut:
        document = template_document(template_id)
        return cls(
            id=template_id,
            title=document["title"],
            description=document.get("description"),
            languages=document["languages"],
            question_count=sum(len(page["questions"]) for page in document["pages"]),
        )


class TemplateList(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = None


class ImportWarningOut(BaseModel):
    source: str = Field(description="Where in the imported file the item came from")
    message: str


class SurveyImportOut(BaseModel):
    survey: SurveyOut
    source_format: str
    warnings: list[ImportWarningOut]
