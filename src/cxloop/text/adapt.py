"""Adapting sentiment to a tenant: its own weak labels and its own class mix.

Comments whose response gave an NPS of 0-6 are taken as negative and 9-10
as positive (7-8 are left out). Chinese ones teach a model of the tenant's
own that is stacked on the shipped one (``scored``); English ones a small
word-weight model that nudges it (``sentiment.Adapter``).
English also gets, from the text of the tenant's comments alone, the mix
of negative, neutral and positive in them (``sentiment.en_class_mix``: the
model learned balanced classes, while most feedback is complaints) and a
word model of the tenant's own (``self_training``). All are JSON in
``text_models``, readable by anyone who asks why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response
from cxloop.identity import Tenant
from cxloop.kit.clock import utc_now
from cxloop.surveys import published_definition
from cxloop.text import runner, scored, self_training
from cxloop.text.models import CommentAnalysis, TextModel, TextSettings
from cxloop.text.sentiment import EN_PRIOR_KIND, EN_PRIOR_MIN_COMMENTS

MAX_EXAMPLES = 20_000
ADAPT_JOB = "text.adapt"
ADAPT_DUE_JOB = "text.adapt_due"
#: The row that says when adapting last ran and how many comments it read (``examples``).
ADAPTED_KIND = "adapted"
#: Adapting is first due at this many Chinese and English comments.
FIRST_ADAPTATION_AT = EN_PRIOR_MIN_COMMENTS
#: The word-weight nudge the Chinese scored model replaced (read until a tenant re-adapts).
LEGACY_ZH_KIND = "sentiment-zh"


@dataclass
class Adaptation:
    """What adapting learned: per language, scored comments used (0: too few, left as is)."""

    learned: dict[str, int] = field(default_factory=dict)
    #: The English word weights learned from scores (only where enough).
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The Chinese scored-comment model's params (None: too few in a class).
    scored_zh: dict[str, Any] | None = None
    #: Chinese and English comments there were (up to MAX_EXAMPLES): when adapting is next due.
    comments: int = 0
    #: English comments read for the class mix, and the mix (None: too few to estimate).
    mix_comments: int = 0
    mix: dict[str, float] | None = None
    #: The self-trained English word model's params (None: not trained).
    reader: dict[str, Any] | None = None

    @property
    def taught_by(self) -> dict[str, int] | None:
        return None if self.reader is None else dict(self.reader["taught_by"])

    @property
    def reader_terms(self) -> int:
        return 0 if self.reader is None else len(self.reader["terms"])


async def weak_labels(session: AsyncSession, tenant_id: str) -> dict[str, tuple[list[str], list[int]]]:
    """{language: (texts, labels)} from the tenant's analysed comments and their NPS answers."""
    rows = (
        await session.execute(
            select(
                CommentAnalysis.masked_text,
                CommentAnalysis.language,
                Response.survey_id,
                Response.survey_version,
                Response.answers,
            )
            .join(Response, Response.id == CommentAnalysis.response_id)
            .where(CommentAnalysis.tenant_id == tenant_id, CommentAnalysis.language.in_(("zh", "en")))
            .order_by(CommentAnalysis.analyzed_at.desc())
            .limit(MAX_EXAMPLES)
        )
    ).all()
    nps_ids: dict[tuple[str, int], list[str]] = {}
    out: dict[str, tuple[list[str], list[int]]] = {}
    for text, language, survey_id, version, answers in rows:
        key = (survey_id, version)
        if key not in nps_ids:
            definition = await published_definition(session, survey_id, version)
            nps_ids[key] = (
                [] if definition is None else [q.id for _, q in definition.questions() if q.type == "nps"]
            )
        scores = [answers.get(q) for q in nps_ids[key] if isinstance(answers.get(q), int)]
        if not scores:
            continue
        score = scores[0]
        if 7 <= score <= 8:
            continue
        texts, labels = out.setdefault(language, ([], []))
        texts.append(text)
        labels.append(1 if score >= 9 else 0)
    return out


async def _save(session: AsyncSession, tenant_id: str, kind: str, params: object, examples: int) -> None:
    row = await session.get(TextModel, (tenant_id, kind))
    if row is None:
        session.add(
            TextModel(tenant_id=tenant_id, kind=kind, params=params, examples=examples, trained_at=utc_now())
        )
    else:
        row.params, row.examples, row.trained_at = params, examples, utc_now()


async def english_comments(session: AsyncSession, tenant_id: str) -> list[str]:
    """The tenant's latest analysed English comments, as users see them."""
    return list(
        (
            await session.execute(
                select(CommentAnalysis.masked_text)
                .where(CommentAnalysis.tenant_id == tenant_id, CommentAnalysis.language == "en")
                .order_by(CommentAnalysis.analyzed_at.desc())
                .limit(MAX_EXAMPLES)
            )
        ).scalars()
    )


async def learn(session: AsyncSession, tenant_id: str) -> Adaptation:
    """Everything adapting learns, by reading only: the slow part, kept out of write transactions."""
    result = Adaptation(comments=await _comment_count(session, tenant_id, up_to=MAX_EXAMPLES))
    for language, (texts, labels) in (await weak_labels(session, tenant_id)).items():
        if language == "zh":
            result.scored_zh = await runner.train_scored(texts, labels)
            result.learned[language] = len(texts) if result.scored_zh else 0
            continue
        weights = await runner.train_adapter(texts, labels, language)
        result.learned[language] = len(texts) if weights else 0
        if weights:
            result.weights[language] = weights
    english_adapter = result.weights.get("en")
    if english_adapter is None:
        stored = await session.get(TextModel, (tenant_id, "sentiment-en"))
        english_adapter = stored.params if stored is not None else None
    comments = [text for text in await english_comments(session, tenant_id) if text.strip()]
    result.mix_comments = len(comments)
    result.mix, result.reader = await runner.adapt_english(comments, english_adapter)
    return result


async def save(session: AsyncSession, tenant_id: str, adaptation: Adaptation) -> None:
    """Store what ``learn`` found; what it could not learn stays as it was."""
    for language, weights in adaptation.weights.items():
        await _save(session, tenant_id, f"sentiment-{language}", weights, adaptation.learned[language])
    if adaptation.scored_zh is not None:
        await _save(session, tenant_id, scored.KIND, adaptation.scored_zh, adaptation.learned["zh"])
        legacy = await session.get(TextModel, (tenant_id, LEGACY_ZH_KIND))
        if legacy is not None:
            await session.delete(legacy)
    if adaptation.mix is not None:
        await _save(session, tenant_id, EN_PRIOR_KIND, adaptation.mix, adaptation.mix_comments)
    if adaptation.reader is not None:
        await _save(session, tenant_id, self_training.KIND, adaptation.reader, adaptation.mix_comments)
    await _save(
        session,
        tenant_id,
        ADAPTED_KIND,
        {"scored_comments": adaptation.learned, "english_comments": adaptation.mix_comments},
        adaptation.comments,
    )
    await session.flush()


async def train_sentiment_adapters(session: AsyncSession, tenant_id: str) -> Adaptation:
    """Learn and store: the scored comments' word weights, the English class mix and word model."""
    adaptation = await learn(session, tenant_id)
    await save(session, tenant_id, adaptation)
    return adaptation


async def _comment_count(session: AsyncSession, tenant_id: str, *, since: Any = None, up_to: int) -> int:
    """Chinese and English comments (analysed after ``since``), counted only up to ``up_to``:
    the check stays cheap."""
    query = select(CommentAnalysis.response_id).where(
        CommentAnalysis.tenant_id == tenant_id, CommentAnalysis.language.in_(("zh", "en"))
    )
    if since is not None:
        query = query.where(CommentAnalysis.analyzed_at > since)
    bounded = query.limit(up_to).subquery()
    return int((await session.execute(select(func.count()).select_from(bounded))).scalar_one())


async def last_adaptation(session: AsyncSession, tenant_id: str) -> TextModel | None:
    """The row of the last adaptation (before the ``adapted`` row there was only the English mix's)."""
    return await session.get(TextModel, (tenant_id, ADAPTED_KIND)) or await session.get(
        TextModel, (tenant_id, EN_PRIOR_KIND)
    )


async def adaptation_due(session: AsyncSession, tenant_id: str) -> bool:
    """Due at the first 200 Chinese and English comments, then each time as many new ones have come
    as the last adaptation read (so at 200, 400, 800, ... and every 20,000 once past 20,000): the
    scored model, the mix and the tenant's words are re-learned as they grow, not on every comment."""
    last = await last_adaptation(session, tenant_id)
    if last is None:
        floor = FIRST_ADAPTATION_AT
        return await _comment_count(session, tenant_id, up_to=floor) >= floor
    needed = max(last.examples, FIRST_ADAPTATION_AT)
    return await _comment_count(session, tenant_id, since=last.trained_at, up_to=needed) >= needed


async def tenants_due(session: AsyncSession) -> list[str]:
    """Tenants that have not turned automatic adaptation off and whose comments call for it."""
    off = select(TextSettings.tenant_id).where(TextSettings.auto_adapt.is_(False))
    candidates = (
        await session.execute(select(Tenant.id).where(Tenant.id.not_in(off)).order_by(Tenant.id))
    ).scalars()
    return [tenant_id for tenant_id in list(candidates) if await adaptation_due(session, tenant_id)]
