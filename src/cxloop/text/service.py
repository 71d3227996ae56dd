"""Analyses stored per response: the pipeline's work, facts for alert rules,
the comment explorer and one-click corrections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response, ResponseRevision
from cxloop.identity import Actor, Perm, Principal, Unit, record
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, NotFound, ValidationFailed
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue
from cxloop.kit.pagination import Page, PageRequest, decode_cursor, make_page
from cxloop.surveys import SurveyDefinition, published_definition
from cxloop.text import normalize, pii, runner, scored, self_training, sentiment
from cxloop.text.engine import Context, TextAnalysis
from cxloop.text.models import CommentAnalysis, CommentTopic, TextCorrection, TextModel, TextSettings
from cxloop.text.taxonomy import get_topic, topic_specs

TRAIN_TOPICS = "text.train_topics"
TOPIC_MODEL = "topics"
TEXT_TYPES = ("text",)
CHOICE_TYPES = ("single_choice", "multiple_choice", "dropdown")


def searchable_text() -> ColumnElement[str]:
    """What a comment search reads: the Simplified fold where one was stored, else the text."""
    return func.coalesce(CommentAnalysis.folded_text, CommentAnalysis.masked_text)


def open_texts(definition: SurveyDefinition | None, answers: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(question id, text) for each open-text answer: text questions and the text of "other" choices."""
    kinds = {}
    if definition is not None:
        kinds = {q.id: q.type for _, q in definition.questions()}
    for question_id, value in (answers or {}).items():
        kind = kinds.get(question_id)
        if kind is None and definition is not None:
            continue
        if isinstance(value, str) and (kind in TEXT_TYPES or (kind is None and definition is None)):
            if value.strip():
                yield question_id, value
        elif kind in CHOICE_TYPES or kind is None:
            picks = value if isinstance(value, list) else [value]
            others = [p["other"] for p in picks if isinstance(p, dict) and isinstance(p.get("other"), str)]
            text = " ".join(o for o in others if o.strip())
            if text:
                yield question_id, text


async def text_settings(session: AsyncSession, tenant_id: str) -> TextSettings:
    row = await session.get(TextSettings, tenant_id)
    if row is None:
        row = TextSettings(
            tenant_id=tenant_id, mask_pii=True, keep_original=False, auto_adapt=True, updated_at=utc_now()
        )
    return row


# A trained topic model is ~1 MB of JSON; the pipeline asks for the context once
# per response, so the parsed params are kept per (tenant, kind, trained_at):
# a retrain (in any process) changes trained_at, so a stale entry is never used.
_params_cache: dict[tuple[str, str, datetime], Any] = {}
_PARAMS_CACHE_SIZE = 64


async def _model_params(session: AsyncSession, tenant_id: str) -> dict[str, Any]:
    """The tenant's stored models by kind, parsed params read only when not cached."""
    stamps = (
        await session.execute(
            select(TextModel.kind, TextModel.trained_at).where(TextModel.tenant_id == tenant_id)
        )
    ).all()
    out: dict[str, Any] = {}
    for kind, trained_at in stamps:
        cache_key = (tenant_id, kind, trained_at)
        if cache_key not in _params_cache:
            params = (
                await session.execute(
                    select(TextModel.params).where(TextModel.tenant_id == tenant_id, TextModel.kind == kind)
                )
            ).scalar_one_or_none()
            if params is None:
                continue
            if len(_params_cache) >= _PARAMS_CACHE_SIZE:
                _params_cache.clear()
            _params_cache[cache_key] = params
        out[kind] = _params_cache[cache_key]
    return out


async def analysis_context(session: AsyncSession, tenant_id: str) -> Context:
    specs = await topic_specs(session, tenant_id)
    models = await _model_params(session, tenant_id)
    adapters = {lang: models[f"sentiment-{lang}"] for lang in ("zh", "en") if f"sentiment-{lang}" in models}
    scored_models = {"zh": models[scored.KIND]} if scored.KIND in models else None
    if scored_models:
        adapters.pop("zh", None)  # the nudge it replaced, should both be there
    priors = {"en": models[sentiment.EN_PRIOR_KIND]} if sentiment.EN_PRIOR_KIND in models else None
    readers = {"en": models[self_training.KIND]} if self_training.KIND in models else None
    settings = await text_settings(session, tenant_id)
    return Context(
        topics=specs,
        topic_model=models.get(TOPIC_MODEL),
        adapters=adapters or None,
        scored_models=scored_models,
        class_priors=priors,
        word_readers=readers,
        mask_pii=settings.mask_pii,
    )


async def analyze_response(
    session: AsyncSession, response_id: str, *, context: Context | None = None, settings: Any = None
) -> int:
    """(Re)write the analyses of one stored response; returns how many comments. Idempotent.

    ``context`` (the tenant's taxonomy and models) may be passed in by a caller
    that analyses many responses of one tenant; ``settings`` say where the
    models run (runner.py)."""
    response = await session.get(Response, response_id)
    if response is None:
        return 0
    definition = await published_definition(session, response.survey_id, response.survey_version)
    texts = list(open_texts(definition, response.answers or {}))
    await session.execute(delete(CommentTopic).where(CommentTopic.response_id == response_id))
    await session.execute(delete(CommentAnalysis).where(CommentAnalysis.response_id == response_id))
    if not texts:
        return 0
    if context is None or not context.topics:
        context = await analysis_context(session, response.tenant_id)
    policy = await text_settings(session, response.tenant_id)
    results: list[TextAnalysis] = await runner.analyze(
        [t for _, t in texts], None, context, settings=settings
    )
    now = utc_now()
    for (question_id, text), result in zip(texts, results, strict=True):
        session.add(
            CommentAnalysis(
                tenant_id=response.tenant_id,
                response_id=response_id,
                question_id=question_id,
                survey_id=response.survey_id,
                unit_id=response.unit_id,
                submitted_at=response.submitted_at,
                language=result.language,
                sentiment=result.sentiment,
                sentiment_score=result.sentiment_score,
                urgency=result.urgency,
                keywords=result.keywords,
                phrases=result.phrases,
                pii=result.pii,
                masked_text=result.masked_text,
                folded_text=normalize.to_simplified(result.masked_text) if result.traditional else None,
                original_text=text if policy.keep_original or not policy.mask_pii else None,
                analyzed_at=now,
            )
        )
        for hit in result.topics:
            session.add(
                CommentTopic(
                    tenant_id=response.tenant_id,
                    response_id=response_id,
                    question_id=question_id,
                    topic_id=hit.topic_id,
                    topic_path=hit.path[:400],
                    sentiment=hit.sentiment or result.sentiment,
                    source=hit.source,
                    confidence=hit.confidence,
                    evidence={"matched": hit.matched[:20], "score": hit.score},
                )
            )
    found = any(result.pii for result in results)
    # Nothing found and no edit history: nothing to redact, and no second pass over the answers.
    if policy.mask_pii and not policy.keep_original and (found or response.revision):
        await _redact_response(session, response, {question_id for question_id, _ in texts}, found)
    await session.flush()
    return len(texts)


async def _redact_response(
    session: AsyncSession, response: Response, question_ids: set[str], found: bool
) -> None:
    """The original is kept only where the tenant's policy allows: not in the answers either, so
    response pages, the API and exports show what the comment explorer shows; nor in the edit history."""
    redacted = redacted_answers(response.answers or {}, question_ids) if found else None
    if redacted is not None:
        # Only over the answers read here: an edit that landed meanwhile is redacted by its own run.
        await session.execute(
            update(Response)
            .where(Response.id == response.id, Response.revision == response.revision)
            .values(answers=redacted)
            .execution_options(synchronize_session="fetch")
        )
    if not response.revision:
        return
    revisions = await session.scalars(
        select(ResponseRevision).where(
            ResponseRevision.tenant_id == response.tenant_id, ResponseRevision.response_id == response.id
        )
    )
    for revision in revisions:
        before = redacted_answers(revision.before or {}, question_ids)
        after = redacted_answers(revision.after or {}, question_ids)
        if before is not None:
            revision.before = before
        if after is not None:
            revision.after = after


def redacted_answers(answers: dict[str, Any], question_ids: set[str]) -> dict[str, Any] | None:
    """``answers`` with personal data masked in the open texts of ``question_ids`` (a text
    answer, or the "other" text of a choice); None when there was nothing to mask."""
    out = dict(answers)
    changed = False
    for question_id in question_ids & answers.keys():
        value = answers[question_id]
        if isinstance(value, str):
            masked = pii.mask(value)[0]
            changed |= masked != value
            out[question_id] = masked
            continue
        picks = value if isinstance(value, list) else [value]
        new_picks: list[Any] = []
        for pick in picks:
            if isinstance(pick, dict) and isinstance(pick.get("other"), str):
                masked = pii.mask(pick["other"])[0]
                changed |= masked != pick["other"]
                new_picks.append({**pick, "other": masked})
            else:
                new_picks.append(pick)
        out[question_id] = new_picks if isinstance(value, list) else new_picks[0]
    return out if changed else None


async def response_text_facts(session: AsyncSession, tenant_id: str, response_id: str) -> dict[str, Any]:
    """{"sentiment", "topics", "urgency"} of a response for alert rules; the most negative comment decides."""
    rows = list(
        await session.scalars(
            select(CommentAnalysis).where(
                CommentAnalysis.tenant_id == tenant_id, CommentAnalysis.response_id == response_id
            )
        )
    )
    topics = await session.scalars(
        select(CommentTopic.topic_path)
        .where(CommentTopic.tenant_id == tenant_id, CommentTopic.response_id == response_id)
        .order_by(CommentTopic.topic_path)
    )
    sentiment = None
    if rows:
        sentiment = min(rows, key=lambda r: r.sentiment_score).sentiment
    urgency = sorted({flag for r in rows for flag in (r.urgency or [])})
    return {"sentiment": sentiment, "topics": sorted(set(topics)), "urgency": urgency}


# --- explorer and corrections ------------------------------------------------------


def _scoped(principal: Principal) -> Any:
    principal.require(Perm.DATA_READ)
    reach = principal.reach(Perm.DATA_READ)
    return (
        select(CommentAnalysis)
        .outerjoin(Unit, Unit.id == CommentAnalysis.unit_id)
        .where(CommentAnalysis.tenant_id == principal.tenant_id, reach.unit_clause(Unit.id, Unit.path))
    )


async def list_comments(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    topic_id: str | None = None,
    sentiment: str | None = None,
    uncovered: bool = False,
    contains: str | None = None,
) -> tuple[Page[CommentAnalysis], dict[tuple[str, str], list[CommentTopic]]]:
    query = _scoped(principal)
    if sentiment is not None:
        query = query.where(CommentAnalysis.sentiment == sentiment)
    topic_filter = select(CommentTopic.response_id).where(
        CommentTopic.tenant_id == principal.tenant_id,
        CommentTopic.question_id == CommentAnalysis.question_id,
        CommentTopic.response_id == CommentAnalysis.response_id,
    )
    if topic_id is not None:
        query = query.where(topic_filter.where(CommentTopic.topic_id == topic_id).exists())
    if uncovered:
        query = query.where(~topic_filter.exists())
    if contains:
        query = query.where(searchable_text().contains(normalize.to_simplified(contains), autoescape=True))
    # One key per comment: response id + question id, newest response first.
    key = CommentAnalysis.response_id + ":" + CommentAnalysis.question_id
    if page.cursor:
        query = query.where(key < decode_cursor("comments", page.cursor))
    query = query.order_by(key.desc()).limit(page.limit + 1)
    rows = list((await session.scalars(query)).all())
    result = make_page(rows, "comments", page, lambda r: f"{r.response_id}:{r.question_id}")
    hits: dict[tuple[str, str], list[CommentTopic]] = {}
    if result.items:
        ids = {r.response_id for r in result.items}
        for topic in await session.scalars(
            select(CommentTopic).where(
                CommentTopic.tenant_id == principal.tenant_id, CommentTopic.response_id.in_(ids)
            )
        ):
            hits.setdefault((topic.response_id, topic.question_id), []).append(topic)
    return result, hits


async def get_comment(
    session: AsyncSession, principal: Principal, response_id: str, question_id: str
) -> CommentAnalysis:
    row = (
        await session.scalars(
            _scoped(principal).where(
                CommentAnalysis.response_id == response_id, CommentAnalysis.question_id == question_id
            )
        )
    ).first()
    if not isinstance(row, CommentAnalysis):
        raise NotFound("No such comment", code="comment_not_found")
    return row


async def correct_topic(
    session: AsyncSession,
    principal: Principal,
    response_id: str,
    question_id: str,
    topic_id: str,
    applies: bool,
) -> TextCorrection:
    """Say a comment is (or is not) about a topic: the assignment changes now, the model learns in a job."""
    principal.require(Perm.DATA_WRITE)
    comment = await get_comment(session, principal, response_id, question_id)
    try:
        topic = await get_topic(session, principal.tenant_id, topic_id)
    except NotFound as exc:
        raise ValidationFailed("Unknown topic", errors=[FieldError("topic_id", "no such topic")]) from exc
    correction = TextCorrection(
        id=new_id(),
        tenant_id=principal.tenant_id,
        response_id=response_id,
        question_id=question_id,
        topic_id=topic.id,
        applies=applies,
        # The masked text: corrections never keep personal data the comment view hides.
        text=comment.masked_text,
        language=comment.language,
        created_at=utc_now(),
        created_by=principal.user_id or principal.token_id or "system",
    )
    session.add(correction)
    existing = await session.get(CommentTopic, (principal.tenant_id, response_id, question_id, topic.id))
    if applies and existing is None:
        specs = {s.id: s.path for s in await topic_specs(session, principal.tenant_id)}
        session.add(
            CommentTopic(
                tenant_id=principal.tenant_id,
                response_id=response_id,
                question_id=question_id,
                topic_id=topic.id,
                topic_path=specs.get(topic.id, topic.id)[:400],
                sentiment=comment.sentiment,
                source="manual",
                confidence=1.0,
                evidence={"corrected_by": correction.created_by},
            )
        )
    elif not applies and existing is not None:
        await session.delete(existing)
    await session.flush()
    record(
        session,
        Actor.of(principal),
        "text.topic_corrected",
        target_type="response",
        target_id=response_id,
        details={"question_id": question_id, "topic_id": topic.id, "applies": applies},
    )
    enqueue(session, TRAIN_TOPICS, {"tenant_id": principal.tenant_id})
    return correction


async def train_topics(session: AsyncSession, tenant_id: str) -> int:
    """Refit the tenant's topic model from all its corrections (latest per comment and topic wins)."""
    rows = list(
        await session.scalars(
            select(TextCorrection)
            .where(TextCorrection.tenant_id == tenant_id)
            .order_by(TextCorrection.created_at, TextCorrection.id)
        )
    )
    latest: dict[tuple[str, str], TextCorrection] = {}
    for row in rows:
        latest[(row.response_id or row.id) + ":" + (row.question_id or ""), row.topic_id] = row
    examples: dict[str, tuple[str, str, set[str]]] = {}
    for (comment_key, topic_id), row in latest.items():
        example = examples.setdefault(comment_key, (row.text, row.language, set()))
        if row.applies:
            example[2].add(topic_id)
    topic_ids = sorted({topic_id for _, topic_id in latest})
    specs = await topic_specs(session, tenant_id)
    params = await runner.train_topics(list(examples.values()), topic_ids, topics=specs)
    model = await session.get(TextModel, (tenant_id, TOPIC_MODEL))
    if model is None:
        model = TextModel(
            tenant_id=tenant_id, kind=TOPIC_MODEL, params=params, examples=len(examples), trained_at=utc_now()
        )
        session.add(model)
    else:
        model.params, model.examples, model.trained_at = params, len(examples), utc_now()
    await session.flush()
    return len(examples)
