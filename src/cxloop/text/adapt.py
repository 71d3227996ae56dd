"""Adapting sentiment to a tenant with its own weak labels.

Comments whose response gave an NPS of 0-6 are taken as negative and 9-10
as positive (7-8 are left out); per language, a small word-weight model
learned from them nudges the shipped model (``sentiment.Adapter``). The
weights are JSON in ``text_models``, readable by anyone who asks why.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response
from cxloop.kit.clock import utc_now
from cxloop.surveys import published_definition
from cxloop.text import sentiment
from cxloop.text.models import CommentAnalysis, TextModel

MAX_EXAMPLES = 20_000


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


async def train_sentiment_adapters(session: AsyncSession, tenant_id: str) -> dict[str, int]:
    """Refit each language's adapter; returns how many comments each learned from (0: too few, left as is)."""
    learned: dict[str, int] = {}
    for language, (texts, labels) in (await weak_labels(session, tenant_id)).items():
        weights = sentiment.train_adapter(texts, labels, language)
        if not weights:
            learned[language] = 0
            continue
        kind = f"sentiment-{language}"
        row = await session.get(TextModel, (tenant_id, kind))
        if row is None:
            session.add(
                TextModel(
                    tenant_id=tenant_id, kind=kind, params=weights, examples=len(texts), trained_at=utc_now()
                )
            )
        else:
            row.params, row.examples, row.trained_at = weights, len(texts), utc_now()
        learned[language] = len(texts)
    await session.flush()
    return learned
