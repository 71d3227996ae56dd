"""Widgets over what customers wrote: topic volume and sentiment trends, topic
impact on NPS, rising phrases, and the comment explorer (matched words and
the topics a comment was given, with one-click corrections on the page).

The first three come from analytics' text insights, which read the same
responses as a metrics query (scope, filters, anonymity threshold); the
explorer adds the text domain's topic assignments to the comment list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop import analytics
from cxloop.dashboards.schemas import Widget
from cxloop.identity import Principal
from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.text import CommentTopic

TextRunner = Callable[
    [AsyncSession, Principal, str, dict[str, Any], dict[str, int]], Awaitable[dict[str, Any]]
]
INSIGHTS = {"topic_trend": "topic_trends", "topic_impact": "topic_impact", "rising_phrases": "rising_phrases"}


async def analytics_text_runner(
    session: AsyncSession, principal: Principal, kind: str, body: dict[str, Any], options: dict[str, int]
) -> dict[str, Any]:
    """Analytics' text insight for a widget type (``topic_trend`` ...)."""
    try:
        query = analytics.MetricsQuery.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(
            "The widget's query is not valid.",
            code="invalid_widget_query",
            errors=[FieldError(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()],
        ) from exc
    insight = getattr(analytics, INSIGHTS[kind])
    result: dict[str, Any] = await insight(session, principal, query, analytics.TextOptions(**options))
    return result


# Tests may swap the runner, as they swap data.query_runner.
text_runner: TextRunner = analytics_text_runner


def text_options(widget: Widget) -> dict[str, int]:
    return widget.text.model_dump() if widget.text is not None else {}


async def text_insight(
    session: AsyncSession, principal: Principal, widget: Widget, body: dict[str, Any]
) -> dict[str, Any]:
    return await text_runner(session, principal, widget.type, body, text_options(widget))


async def with_topics(session: AsyncSession, principal: Principal, rows: list[dict[str, Any]]) -> None:
    """Each comment's topics (path, how it was assigned, why) and the words to highlight in it."""
    ids = {r["response_id"] for r in rows}
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if ids:
        for topic in await session.scalars(
            select(CommentTopic).where(
                CommentTopic.tenant_id == principal.tenant_id, CommentTopic.response_id.in_(sorted(ids))
            )
        ):
            evidence = topic.evidence if isinstance(topic.evidence, dict) else {}
            matched = [w for w in evidence.get("matched", []) if isinstance(w, str)]
            found.setdefault((topic.response_id, topic.question_id), []).append(
                {
                    "topic_id": topic.topic_id,
                    "topic_path": topic.topic_path,
                    "sentiment": topic.sentiment,
                    "source": topic.source,
                    "confidence": round(float(topic.confidence), 3),
                    "matched": matched,
                }
            )
    for row in rows:
        topics = sorted(
            found.get((row["response_id"], row["question_id"]), []), key=lambda t: t["topic_path"]
        )
        row["topics"] = topics
        row["matched"] = sorted({w for t in topics if t["source"] == "rule" for w in t["matched"]})
