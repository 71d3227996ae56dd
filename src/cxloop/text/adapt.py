"""Adapting sentiment to a tenant: its own weak labels and its own class mix.

Comments whose response gave an NPS of 0-6 are taken as negative and 9-10
as positive (7-8 are left out); per language, a small word-weight model
learned from them nudges the shipped model (``sentiment.Adapter``).
English also gets, from the text of the tenant's comments alone, the mix
of negative, neutral and positive in them (``sentiment.en_class_mix``: the
model learned balanced classes, while most feedback is complaints) and a
word model of the tenant's own (``self_training``). All are JSON in
``text_models``, readable by anyone who asks why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response
from cxloop.kit.clock import utc_now
from cxloop.surveys import published_definition
from cxloop.text import engine, self_training, sentiment
from cxloop.text.models import CommentAnalysis, TextModel

MAX_EXAMPLES = 20_000
PRIOR_KIND = "prior-en"


@dataclass
class Adaptation:
    """What ``adapt`` learned: per language, comments used (0: too few, left as is)."""

    learned: dict[str, int] = field(default_factory=dict)
    #: English comments read for the class mix, and the mix (None: too few to estimate).
    mix_comments: int = 0
    mix: dict[str, float] | None = None
    #: Per class, the comments that taught the word model (None: not trained).
    taught_by: dict[str, int] | None = None
    reader_terms: int = 0


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


async def train_sentiment_adapters(session: AsyncSession, tenant_id: str) -> Adaptation:
    """Refit each language's adapter, then estimate the English class mix with it applied."""
    result = Adaptation()
    english_adapter: dict[str, float] | None = None
    for language, (texts, labels) in (await weak_labels(session, tenant_id)).items():
        weights = sentiment.train_adapter(texts, labels, language)
        if not weights:
            result.learned[language] = 0
            continue
        await _save(session, tenant_id, f"sentiment-{language}", weights, len(texts))
        result.learned[language] = len(texts)
        if language == "en":
            english_adapter = weights
    if english_adapter is None:
        stored = await session.get(TextModel, (tenant_id, "sentiment-en"))
        english_adapter = stored.params if stored is not None else None
    comments = [text for text in await english_comments(session, tenant_id) if text.strip()]
    result.mix_comments = len(comments)
    adapter = sentiment.Adapter(english_adapter, "en") if english_adapter else None
    if len(comments) >= sentiment.EN_PRIOR_MIN_COMMENTS:
        log_p = sentiment.en_log_probabilities(comments, engine.model_dir(), adapter)
        result.mix = sentiment.en_class_mix(log_p)
    if result.mix is not None:
        await _save(session, tenant_id, PRIOR_KIND, result.mix, len(comments))
        reader = self_training.train(comments, sentiment.with_prior(log_p, result.mix))
        if reader is not None:
            await _save(session, tenant_id, self_training.KIND, reader, len(comments))
            result.taught_by, result.reader_terms = reader["taught_by"], len(reader["terms"])
    await session.flush()
    return result
