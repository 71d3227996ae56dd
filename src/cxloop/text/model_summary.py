"""What a tenant's stored text models hold, in a few figures and words each.

``GET /api/v1/text/models`` shows it, so the CX team can see what adapting and
their corrections taught without reading JSON out of the database: for each
model, how many comments taught it, when, and its strongest words.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.text import scored, self_training
from cxloop.text.adapt import ADAPTED_KIND
from cxloop.text.models import TextModel
from cxloop.text.sentiment import EN_PRIOR_KIND
from cxloop.text.service import TOPIC_MODEL

STRONGEST = 10


def _readable(term: str) -> bool:
    # "。" or "！" can weigh a lot in a character model, but tells a reader nothing.
    return any(character.isalnum() for character in term)


def _strongest(weights: dict[str, float]) -> dict[str, list[str]]:
    ranked = sorted(((t, w) for t, w in weights.items() if _readable(t)), key=lambda item: item[1])
    return {
        "most_negative": [term for term, weight in ranked[:STRONGEST] if weight < 0],
        "most_positive": [term for term, weight in reversed(ranked[-STRONGEST:]) if weight > 0],
    }


def summary(kind: str, params: Any) -> dict[str, Any]:
    """A small, readable account of one stored model (``{}`` for a kind or shape this version does
    not know: a row written by another version must not break the listing)."""
    if not isinstance(params, dict):
        return {}
    try:
        return _summary(kind, params)
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}


def _summary(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind == scored.KIND:
        a, b, c = params["fuse"]
        return {
            "taught_by": params["taught_by"],
            "fuse": {"shipped": a, "tenant": b, "bias": c},
            "terms": len(params["terms"]),
            **_strongest(params["terms"]),
        }
    if kind.startswith("sentiment-"):
        return {"words": len(params), **_strongest(params)}
    if kind == EN_PRIOR_KIND:
        return {"class_mix": params}
    if kind == self_training.KIND:
        return {"taught_by": params.get("taught_by"), "terms": len(params.get("terms", {}))}
    if kind == TOPIC_MODEL:
        topics = params.get("topics", {})
        return {
            "examples": params.get("examples"),
            "topics": {topic_id: model.get("n") for topic_id, model in topics.items()},
        }
    if kind == ADAPTED_KIND:
        return dict(params)
    return {}


async def model_summaries(session: AsyncSession, tenant_id: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(TextModel).where(TextModel.tenant_id == tenant_id).order_by(TextModel.kind)
    )
    return [
        {
            "kind": row.kind,
            "examples": row.examples,
            "trained_at": row.trained_at,
            "summary": summary(row.kind, row.params),
        }
        for row in rows
    ]


async def adaptation_stamps(session: AsyncSession, tenant_id: str) -> dict[str, dict[str, Any]]:
    """When adapting last ran and when the Chinese scored model was taught, with their counts:
    ``{kind: {"examples", "trained_at"}}``, read without the models themselves (for the settings page)."""
    rows = await session.execute(
        select(TextModel.kind, TextModel.examples, TextModel.trained_at).where(
            TextModel.tenant_id == tenant_id, TextModel.kind.in_((ADAPTED_KIND, scored.KIND))
        )
    )
    return {kind: {"examples": examples, "trained_at": trained_at} for kind, examples, trained_at in rows}
