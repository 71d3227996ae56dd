"""Survey services: create, edit, publish, close, duplicate. Never commits.

Everything is tenant-scoped through the caller's Principal: configuring
surveys needs CONFIG_WRITE, reading them DATA_READ; another tenant's survey
is answered as missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Perm, Principal, Unit, get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.surveys.definition import SurveyDefinition, parse_definition
from cxloop.surveys.models import Survey, SurveyVersion

DRAFT, PUBLISHED, CLOSED = "draft", "published", "closed"
STATUSES = (DRAFT, PUBLISHED, CLOSED)
TEMPLATE_IDS = (
    "relationship_nps",
    "post_purchase_csat",
    "support_ces",
    "servqual_expectations",
    "store_visit",
)


@dataclass(frozen=True)
class SurveyView:
    survey: Survey
    current: SurveyVersion
    unit_code: str | None = None


@cache
def template_document(template_id: str) -> dict[str, Any]:
    text = resources.files("cxloop.surveys.templates").joinpath(f"{template_id}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def template_definition(template_id: str, language: str | None, path: str = "template") -> dict[str, Any]:
    """A template's definition, with ``language`` as its default language."""
    if template_id not in TEMPLATE_IDS:
        raise invalid(
            path, f"No template {template_id!r}; see GET /api/v1/survey-templates.", "unknown_template"
        )
    document: dict[str, Any] = json.loads(json.dumps(template_document(template_id)))
    if language is not None:
        if language not in document["languages"]:
            raise invalid("language", f"The template has no {language!r} text.", "unknown_language")
        document["default_language"] = language
        document["languages"] = [language] + [lang for lang in document["languages"] if lang != language]
    return document


def _actor_id(principal: Principal) -> str:
    return principal.user_id or principal.token_id or principal.label[:26]


def _stored(definition: SurveyDefinition) -> dict[str, Any]:
    stored: dict[str, Any] = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    return stored


async def _unit_id(session: AsyncSession, principal: Principal, unit_code: str | None) -> str | None:
    if unit_code is None:
        return None
    unit = await get_unit_by_code(session, principal.tenant_id, unit_code)
    if unit is None:
        raise invalid("unit_code", f"No unit {unit_code!r}.", code="unknown_unit")
    return unit.id


async def create_survey(
    session: AsyncSession, principal: Principal, definition: SurveyDefinition, unit_code: str | None = None
) -> SurveyView:
    principal.require(Perm.CONFIG_WRITE)
    now = utc_now()
    survey = Survey(
        id=new_id(),
        tenant_id=principal.tenant_id,
        unit_id=await _unit_id(session, principal, unit_code),
        status=DRAFT,
        current_version=1,
        published_version=None,
        created_at=now,
        updated_at=now,
        created_by=_actor_id(principal),
    )
    version = SurveyVersion(
        survey_id=survey.id, version=1, definition=_stored(definition), published_at=None, created_at=now
    )
    session.add(survey)
    await session.flush()
    session.add(version)
    await session.flush()
    return SurveyView(survey, version, unit_code)


async def _unit_code(session: AsyncSession, survey: Survey) -> str | None:
    if survey.unit_id is None:
        return None
    unit = await session.get(Unit, survey.unit_id)
    return unit.code if unit is not None else None


async def _load(session: AsyncSession, principal: Principal, survey_id: str, *, lock: bool = False) -> Survey:
    statement = select(Survey).where(Survey.id == survey_id, Survey.tenant_id == principal.tenant_id)
    if lock:
        statement = statement.with_for_update()
    survey = (await session.execute(statement)).scalar_one_or_none()
    if survey is None:
        raise not_found("survey")
    return survey


async def _version(session: AsyncSession, survey: Survey, number: int) -> SurveyVersion:
    version = await session.get(SurveyVersion, (survey.id, number))
    assert version is not None, "a survey always has its current version"
    return version


async def get_survey(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyView:
    principal.require(Perm.DATA_READ)
    if len(survey_id) > 26:
        raise not_found("survey")
    survey = await _load(session, principal, survey_id)
    current = await _version(session, survey, survey.current_version)
    return SurveyView(survey, current, await _unit_code(session, survey))


async def list_surveys(
    session: AsyncSession, principal: Principal, page: PageRequest, status: str | None = None
) -> Page[SurveyView]:
    principal.require(Perm.DATA_READ)
    statement = select(Survey).where(Survey.tenant_id == principal.tenant_id)
    if status is not None:
        statement = statement.where(Survey.status == status)
    rows = list((await session.execute(apply_keyset(statement, Survey.id, "surveys", page))).scalars())
    result = make_page(rows, "surveys", page, lambda s: s.id)
    views = [
        SurveyView(s, await _version(session, s, s.current_version), await _unit_code(session, s))
        for s in result.items
    ]
    return Page(items=views, next_cursor=result.next_cursor)


async def update_survey(
    session: AsyncSession, principal: Principal, survey_id: str, definition: SurveyDefinition
) -> SurveyView:
    """Edit the draft version; a published version is never changed, so
    editing one starts the next version as a draft."""
    principal.require(Perm.CONFIG_WRITE)
    survey = await _load(session, principal, survey_id, lock=True)
    if survey.status == CLOSED:
        raise Conflict("A closed survey cannot be edited; duplicate it instead.", code="survey_closed")
    current = await _version(session, survey, survey.current_version)
    now = utc_now()
    if current.published_at is None:
        current.definition = _stored(definition)
    else:
        current = SurveyVersion(
            survey_id=survey.id,
            version=survey.current_version + 1,
            definition=_stored(definition),
            published_at=None,
            created_at=now,
        )
        session.add(current)
        survey.current_version = current.version
    survey.updated_at = now
    await session.flush()
    return SurveyView(survey, current, await _unit_code(session, survey))


async def publish_survey(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyView:
    principal.require(Perm.CONFIG_WRITE)
    survey = await _load(session, principal, survey_id, lock=True)
    if survey.status == CLOSED:
        raise Conflict("A closed survey cannot be published again; duplicate it.", code="survey_closed")
    current = await _version(session, survey, survey.current_version)
    if current.published_at is not None:
        raise Conflict("This version is already published; edit the survey first.", code="already_published")
    # Stored definitions were valid when saved; check again in case the format has tightened since.
    parse_definition(current.definition)
    now = utc_now()
    current.published_at = now
    survey.published_version = current.version
    survey.status = PUBLISHED
    survey.updated_at = now
    await session.flush()
    return SurveyView(survey, current, await _unit_code(session, survey))


async def close_survey(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyView:
    principal.require(Perm.CONFIG_WRITE)
    survey = await _load(session, principal, survey_id, lock=True)
    if survey.status != PUBLISHED:
        raise Conflict(
            f"Only a published survey can be closed; this one is {survey.status}.", code="not_published"
        )
    survey.status = CLOSED
    survey.updated_at = utc_now()
    await session.flush()
    current = await _version(session, survey, survey.current_version)
    return SurveyView(survey, current, await _unit_code(session, survey))


async def duplicate_survey(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyView:
    """A new draft survey with the current definition of this one."""
    principal.require(Perm.CONFIG_WRITE)
    source = await _load(session, principal, survey_id)
    current = await _version(session, source, source.current_version)
    unit_code = await _unit_code(session, source)
    copy = await create_survey(session, principal, parse_definition(current.definition), unit_code)
    return copy


async def list_versions(session: AsyncSession, principal: Principal, survey_id: str) -> list[SurveyVersion]:
    principal.require(Perm.DATA_READ)
    survey = await _load(session, principal, survey_id)
    statement = (
        select(SurveyVersion).where(SurveyVersion.survey_id == survey.id).order_by(SurveyVersion.version)
    )
    return list((await session.execute(statement)).scalars())
