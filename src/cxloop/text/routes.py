"""The text API: ad-hoc analysis, the taxonomy, the comment explorer and corrections."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from cxloop.identity import Actor, CurrentPrincipal, Perm, Principal, record
from cxloop.kit.clock import utc_now
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from cxloop.text import runner
from cxloop.text.model_summary import model_summaries
from cxloop.text.models import CommentAnalysis, CommentTopic, TextSettings, TextTopic
from cxloop.text.schemas import (
    AnalysisOut,
    AnalyzeIn,
    AnalyzeOut,
    CommentOut,
    CommentPage,
    CommentTopicOut,
    CorrectionIn,
    CorrectionOut,
    SettingsIn,
    SettingsOut,
    SuggestionList,
    SuggestionOut,
    TextModelList,
    TextModelOut,
    TopicIn,
    TopicList,
    TopicOut,
    TopicUpdate,
)
from cxloop.text.service import analysis_context, correct_topic, get_comment, list_comments, text_settings
from cxloop.text.suggest import suggest_topics
from cxloop.text.taxonomy import (
    all_topics,
    create_topic,
    delete_topic,
    ensure_taxonomy,
    get_topic,
    paths,
    tenant_locale,
    update_topic,
)

router = APIRouter(prefix="/api/v1", tags=["text"], route_class=TransactionalRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
CREATED: dict[int | str, dict[str, Any]] = {200: {"description": "Replayed by the same Idempotency-Key"}}


@router.post(
    "/text/analyze",
    response_model=AnalyzeOut,
    summary="Analyse texts ad hoc with my taxonomy; nothing is stored",
)
async def post_analyze(body: AnalyzeIn, session: DbSession, principal: CurrentPrincipal) -> AnalyzeOut:
    principal.require(Perm.DATA_READ)
    context = await analysis_context(session, principal.tenant_id)
    results = await runner.analyze(body.texts, body.language, context)
    return AnalyzeOut(items=[AnalysisOut.of(r) for r in results])


async def _topic_out(session: DbSession, principal: Principal, topic: TextTopic) -> TopicOut:
    named = paths(
        await all_topics(session, principal.tenant_id), await tenant_locale(session, principal.tenant_id)
    )
    return TopicOut(
        id=topic.id,
        parent_id=topic.parent_id,
        key=topic.key,
        name=topic.name,
        path=named.get(topic.id, ""),
        keywords=topic.keywords or {},
        exclude=topic.exclude or {},
        position=topic.position,
    )


@router.get("/text/topics", response_model=TopicList, summary="My taxonomy, parents before children")
async def get_topics(session: DbSession, principal: CurrentPrincipal) -> TopicList:
    principal.require(Perm.DATA_READ)
    await ensure_taxonomy(session, principal.tenant_id)
    topics = await all_topics(session, principal.tenant_id)
    named = paths(topics, await tenant_locale(session, principal.tenant_id))
    items = [
        TopicOut(
            id=t.id,
            parent_id=t.parent_id,
            key=t.key,
            name=t.name,
            path=named[t.id],
            keywords=t.keywords or {},
            exclude=t.exclude or {},
            position=t.position,
        )
        for t in topics
    ]
    items.sort(key=lambda t: (t.path.count(" > "), t.path))
    return TopicList(items=items)


@router.post(
    "/text/topics", status_code=201, response_model=TopicOut, summary="Add a topic", responses=CREATED
)
async def post_topic(
    request: Request, body: TopicIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.CONFIG_WRITE)

    async def create() -> Any:
        topic = await create_topic(session, principal, body.model_dump())
        return (await _topic_out(session, principal, topic)).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get("/text/topics/{topic_id}", response_model=TopicOut, summary="One topic")
async def get_one_topic(topic_id: str, session: DbSession, principal: CurrentPrincipal) -> TopicOut:
    principal.require(Perm.DATA_READ)
    return await _topic_out(session, principal, await get_topic(session, principal.tenant_id, topic_id))


@router.patch(
    "/text/topics/{topic_id}", response_model=TopicOut, summary="Rename, move or change a topic's words"
)
async def patch_topic(
    topic_id: str, body: TopicUpdate, session: DbSession, principal: CurrentPrincipal
) -> TopicOut:
    topic = await update_topic(session, principal, topic_id, body.model_dump(exclude_unset=True))
    return await _topic_out(session, principal, topic)


@router.delete(
    "/text/topics/{topic_id}", status_code=204, summary="Delete a topic, its subtopics and their assignments"
)
async def remove_topic(topic_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    await delete_topic(session, principal, topic_id)
    return Response(status_code=204)


def _comment_out(row: CommentAnalysis, topics: list[CommentTopic], show_original: bool) -> CommentOut:
    text = row.original_text if show_original and row.original_text is not None else row.masked_text
    return CommentOut(
        response_id=row.response_id,
        question_id=row.question_id,
        survey_id=row.survey_id,
        language=row.language,
        sentiment=row.sentiment,
        sentiment_score=row.sentiment_score,
        urgency=row.urgency or [],
        keywords=row.keywords or [],
        phrases=row.phrases or [],
        pii=row.pii or [],
        text=text,
        topics=[
            CommentTopicOut(
                topic_id=t.topic_id,
                topic_path=t.topic_path,
                sentiment=t.sentiment,
                source=t.source,
                confidence=t.confidence,
                evidence=t.evidence or {},
            )
            for t in sorted(topics, key=lambda t: t.topic_path)
        ],
    )


@router.get(
    "/text/comments", response_model=CommentPage, summary="Analysed comments in my reach, newest first"
)
async def get_comments(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    topic_id: Annotated[str | None, Query(max_length=26)] = None,
    sentiment: Literal["negative", "neutral", "positive"] | None = None,
    uncovered: bool = False,
    contains: Annotated[str | None, Query(max_length=200)] = None,
) -> CommentPage:
    page, hits = await list_comments(
        session,
        principal,
        PageRequest(limit=limit, cursor=cursor),
        topic_id=topic_id,
        sentiment=sentiment,
        uncovered=uncovered,
        contains=contains,
    )
    return CommentPage(
        items=[_comment_out(r, hits.get((r.response_id, r.question_id), []), False) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/text/comments/{response_id}/{question_id}/corrections",
    response_model=CorrectionOut,
    status_code=201,
    summary="Say a comment is (or is not) about a topic; the topic model learns from it",
    responses=CREATED,
)
async def post_correction(
    request: Request,
    response_id: str,
    question_id: str,
    body: CorrectionIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> JSONResponse:
    principal.require(Perm.DATA_WRITE)

    async def create() -> Any:
        correction = await correct_topic(
            session, principal, response_id, question_id, body.topic_id, body.applies
        )
        return CorrectionOut(
            id=correction.id,
            response_id=correction.response_id,
            question_id=correction.question_id,
            topic_id=correction.topic_id,
            applies=correction.applies,
        ).model_dump(mode="json")

    payload = {"response_id": response_id, "question_id": question_id, **body.model_dump(mode="json")}
    return await idempotent(request, session, principal.idempotency_owner, payload, create)


@router.get(
    "/text/comments/{response_id}/{question_id}", response_model=CommentOut, summary="One analysed comment"
)
async def get_one_comment(
    response_id: str, question_id: str, session: DbSession, principal: CurrentPrincipal
) -> CommentOut:
    row = await get_comment(session, principal, response_id, question_id)
    topics = list(
        await session.scalars(
            select(CommentTopic).where(
                CommentTopic.tenant_id == principal.tenant_id,
                CommentTopic.response_id == response_id,
                CommentTopic.question_id == question_id,
            )
        )
    )
    return _comment_out(row, topics, False)


@router.get(
    "/text/suggestions",
    response_model=SuggestionList,
    summary="Suggested topics from comments no topic covers",
)
async def get_suggestions(session: DbSession, principal: CurrentPrincipal) -> SuggestionList:
    return SuggestionList(items=[SuggestionOut(**s) for s in await suggest_topics(session, principal)])


@router.get(
    "/text/models",
    response_model=TextModelList,
    summary="What adapting and corrections taught: each stored model, its examples and strongest words",
)
async def get_text_models(session: DbSession, principal: CurrentPrincipal) -> TextModelList:
    # Learned from the whole tenant's comments: for those who configure it, not for a scoped role.
    principal.require(Perm.CONFIG_WRITE)
    items = await model_summaries(session, principal.tenant_id)
    return TextModelList(items=[TextModelOut(**item) for item in items])


@router.get("/text/settings", response_model=SettingsOut, summary="How personal data in comments is handled")
async def get_text_settings(session: DbSession, principal: CurrentPrincipal) -> SettingsOut:
    principal.require(Perm.DATA_READ)
    row = await text_settings(session, principal.tenant_id)
    return SettingsOut(mask_pii=row.mask_pii, keep_original=row.keep_original, auto_adapt=row.auto_adapt)


@router.put(
    "/text/settings",
    response_model=SettingsOut,
    summary="Turn masking on or off; keep originals or not; adapt automatically or not",
)
async def put_text_settings(body: SettingsIn, session: DbSession, principal: CurrentPrincipal) -> SettingsOut:
    principal.require(Perm.CONFIG_WRITE)
    row = await session.get(TextSettings, principal.tenant_id)
    if row is None:
        row = TextSettings(
            tenant_id=principal.tenant_id,
            mask_pii=body.mask_pii,
            keep_original=body.keep_original,
            auto_adapt=body.auto_adapt,
            updated_at=utc_now(),
        )
        session.add(row)
    else:
        row.mask_pii, row.keep_original, row.auto_adapt = body.mask_pii, body.keep_original, body.auto_adapt
        row.updated_at = utc_now()
    await session.flush()
    record(
        session,
        Actor.of(principal),
        "text.settings_changed",
        target_type="tenant",
        target_id=principal.tenant_id,
        details=body.model_dump(),
    )
    return SettingsOut(mask_pii=row.mask_pii, keep_original=row.keep_original, auto_adapt=row.auto_adapt)
