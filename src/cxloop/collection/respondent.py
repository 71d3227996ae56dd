"""The respondent side of collection: anonymous people answering a survey page
by page. Never commits.

There is no Principal here: everything works from the survey (and so its
tenant) and, for a personal link, the link row. Each answered page is saved
as a ``partial`` response that remembers where to resume; the last page
makes it ``complete`` and, in the same transaction, enqueues the pipeline
job, exactly once per response. Partials never reach the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import tasks  # noqa: F401  (registers the pipeline job before enqueue)
from cxloop.collection.models import Response, SurveyLink
from cxloop.collection.pipeline import RESPONSE_STORED
from cxloop.collection.respond_flow import shown_on
from cxloop.collection.validation import check_answers, check_embedded, shown_questions, with_defaults
from cxloop.identity import get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.jobs import enqueue
from cxloop.surveys import CLOSED, PUBLISHED, Facts, Survey, SurveyDefinition, published_definition

PARTIAL, COMPLETE = "partial", "complete"
SOURCE_WEB = "web"
DEFAULT_CHANNEL = "web"


@dataclass(frozen=True)
class Live:
    """A survey as a respondent meets it: published (or closed) and its published version."""

    survey_id: str
    tenant_id: str
    status: str
    version: int
    definition: SurveyDefinition

    @property
    def closed(self) -> bool:
        return self.status == CLOSED


async def definition_of(session: AsyncSession, survey_id: str, version: int) -> SurveyDefinition | None:
    return await published_definition(session, survey_id, version)


async def live_survey(session: AsyncSession, survey_id: str) -> Live | None:
    """None for an unknown or never-published survey (respondents get 404 for both)."""
    if not survey_id or len(survey_id) > 26:
        return None
    survey = await session.get(Survey, survey_id)
    if survey is None or survey.status not in (PUBLISHED, CLOSED) or survey.published_version is None:
        return None
    definition = await definition_of(session, survey.id, survey.published_version)
    if definition is None:
        return None
    return Live(survey.id, survey.tenant_id, survey.status, survey.published_version, definition)


@dataclass
class Context:
    """Who answers and through what: what the link (or the signed parameters) set."""

    unit_id: str | None = None
    channel: str = DEFAULT_CHANNEL
    touchpoint: str | None = None
    embedded: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    link_id: str | None = None
    language: str | None = None

    def as_token(self) -> dict[str, Any]:
        return {"u": self.unit_id, "c": self.channel, "tp": self.touchpoint, "e": self.embedded}

    @classmethod
    def from_token(cls, data: Any) -> Context:
        if not isinstance(data, dict):
            return cls()
        embedded = data.get("e") if isinstance(data.get("e"), dict) else {}
        channel = data.get("c")
        return cls(
            unit_id=data.get("u") if isinstance(data.get("u"), str) else None,
            channel=channel if isinstance(channel, str) else DEFAULT_CHANNEL,
            touchpoint=data.get("tp") if isinstance(data.get("tp"), str) else None,
            embedded=dict(embedded or {}),
        )


def link_context(link: SurveyLink) -> Context:
    return Context(
        unit_id=link.unit_id,
        channel=link.channel,
        touchpoint=link.touchpoint,
        embedded=dict(link.embedded or {}),
        contact=dict(link.contact_ref or {}),
        link_id=link.id,
        language=link.language,
    )


def response_context(response: Response) -> Context:
    return Context(
        unit_id=response.unit_id,
        channel=response.channel,
        touchpoint=response.touchpoint,
        embedded=dict(response.embedded or {}),
        contact=dict(response.contact_ref or {}),
        link_id=response.link_id,
        language=response.language,
    )


async def anonymous_context(session: AsyncSession, live: Live, params: dict[str, str]) -> Context:
    """What verified link parameters set; a unit or field the survey does not know is left out."""
    context = Context()
    code = params.get("unit")
    if code:
        unit = await get_unit_by_code(session, live.tenant_id, code)
        context.unit_id = unit.id if unit is not None else None
    channel = params.get("channel")
    if channel and len(channel) <= 32 and channel.isidentifier() and channel.islower():
        context.channel = channel
    touchpoint = params.get("touchpoint")
    if touchpoint and len(touchpoint) <= 64 and touchpoint.isprintable():
        context.touchpoint = touchpoint
    embedded = {key[2:]: value for key, value in params.items() if key.startswith("e.")}
    context.embedded = {
        name: value for name, value in embedded.items() if not check_embedded(live.definition, {name: value})
    }
    return context


def facts_for(definition: SurveyDefinition, answers: dict[str, Any], context: Context) -> Facts:
    return Facts(
        answers=answers, embedded=with_defaults(definition, context.embedded), contact=context.contact
    )


async def personal_link(session: AsyncSession, live: Live, link_id: str) -> SurveyLink | None:
    link = await session.get(SurveyLink, link_id)
    if link is None or link.survey_id != live.survey_id or link.tenant_id != live.tenant_id:
        return None
    return link


def link_expired(link: SurveyLink, now: datetime) -> bool:
    return link.expires_at is not None and link.expires_at <= now


async def response_for_link(session: AsyncSession, link_id: str, *, lock: bool = False) -> Response | None:
    statement = select(Response).where(Response.link_id == link_id)
    if lock:
        # Two devices sending the last page at once: the second waits, then sees it complete.
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def response_by_id(
    session: AsyncSession, live: Live, response_id: str, *, lock: bool = False
) -> Response | None:
    statement = select(Response).where(
        Response.id == response_id, Response.survey_id == live.survey_id, Response.source == SOURCE_WEB
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def browser_response(
    session: AsyncSession, live: Live, browser_key: str, status: str
) -> Response | None:
    """This browser's newest anonymous response with ``status`` (to resume, or to refuse a second one)."""
    statement = (
        select(Response)
        .where(
            Response.survey_id == live.survey_id,
            Response.browser_key == browser_key,
            Response.link_id.is_(None),
            Response.status == status,
        )
        .order_by(Response.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class Saved:
    response: Response
    completed: bool


def merge_page(
    definition: SurveyDefinition, before: dict[str, Any], page: int, answers: dict[str, Any]
) -> dict[str, Any]:
    """Earlier answers with this page's replaced (a question left empty now drops its old answer)."""
    on_page = {q.id for q in definition.pages[page].questions}
    merged = {k: v for k, v in before.items() if k not in on_page}
    merged.update(answers)
    return merged


def pruned(definition: SurveyDefinition, answers: dict[str, Any], context: Context) -> dict[str, Any]:
    """Only the answers to questions the final path shows (going back can change the path)."""
    shown = shown_questions(definition, facts_for(definition, answers, context))
    return {k: v for k, v in answers.items() if k in shown}


async def save_page(
    session: AsyncSession,
    live: Live,
    version: int,
    definition: SurveyDefinition,
    *,
    response_id: str,
    existing: Response | None,
    context: Context,
    language: str,
    browser_key: str | None,
    page: int,
    answers: dict[str, Any],
    next_page_id: str | None,
) -> Saved:
    """Save one answered page; ``next_page_id`` None completes the response."""
    now = utc_now()
    before = dict(existing.answers) if existing is not None else {}
    merged = merge_page(definition, before, page, answers)
    completing = next_page_id is None
    if completing:
        merged = pruned(definition, merged, context)
        # The pages checked each page; this is the same check the API applies, as a last guard.
        problems = check_answers(definition, merged, context.embedded, context.contact)
        if problems:
            question_id = problems[0].path.removeprefix("answers.").split(".")[0].split("[")[0]
            raise Incomplete(_page_of(definition, question_id, page))
    response = existing
    if response is None:
        response = Response(
            id=response_id,
            tenant_id=live.tenant_id,
            survey_id=live.survey_id,
            survey_version=version,
            unit_id=context.unit_id,
            channel=context.channel,
            touchpoint=context.touchpoint,
            language=language,
            submitted_at=now,
            received_at=now,
            answers=merged,
            embedded=with_defaults(definition, context.embedded),
            contact_ref=context.contact,
            source=SOURCE_WEB,
            status=PARTIAL,
            resume_page=next_page_id,
            updated_at=now,
            link_id=context.link_id,
            browser_key=browser_key if context.link_id is None else None,
            revision=0,
        )
        try:
            async with session.begin_nested():
                session.add(response)
                await session.flush()
        except IntegrityError:
            # The same personal link saved from another device at the same moment.
            raise LinkRace() from None
    response.answers = merged
    response.language = language
    response.updated_at = now
    response.resume_page = next_page_id
    if completing:
        response.status = COMPLETE
        response.submitted_at = now
        if context.link_id is not None:
            link = await session.get(SurveyLink, context.link_id)
            if link is not None:
                link.completed_at = now
    await session.flush()
    if completing:
        enqueue(
            session,
            RESPONSE_STORED,
            {"response_id": response.id, "survey_id": response.survey_id, "tenant_id": response.tenant_id},
        )
        await session.flush()
    return Saved(response, completing)


class LinkRace(Exception):
    """Two first saves of one personal link at once; the loser asks the respondent to reload."""


class Incomplete(Exception):
    """The answers miss something an earlier page needs (the path changed): go to that page."""

    def __init__(self, page: int) -> None:
        super().__init__(page)
        self.page = page


def _page_of(definition: SurveyDefinition, question_id: str, fallback: int) -> int:
    return next((index for index, q in definition.questions() if q.id == question_id), fallback)


__all__ = [
    "COMPLETE",
    "PARTIAL",
    "Context",
    "Incomplete",
    "LinkRace",
    "Live",
    "Saved",
    "anonymous_context",
    "browser_response",
    "definition_of",
    "facts_for",
    "link_context",
    "link_expired",
    "live_survey",
    "personal_link",
    "pruned",
    "response_by_id",
    "response_context",
    "response_for_link",
    "save_page",
    "shown_on",
]
