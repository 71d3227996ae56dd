"""Topic suggestions: what comments no topic covers keep talking about.

Keywords of uncovered comments are counted by how many comments use them;
each of the most common, with the words that co-occur with it most, is a
suggested topic (name and seed words), shown with example comments. Plain
counting, so the suggestion explains itself.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Perm, Principal, Unit
from cxloop.text.models import CommentAnalysis, CommentTopic

SCAN_LIMIT = 5000
MIN_COMMENTS = 3


async def suggest_topics(
    session: AsyncSession, principal: Principal, limit: int = 10
) -> list[dict[str, Any]]:
    principal.require(Perm.DATA_READ)
    reach = principal.reach(Perm.DATA_READ)
    covered = select(CommentTopic.response_id).where(
        CommentTopic.tenant_id == principal.tenant_id,
        CommentTopic.response_id == CommentAnalysis.response_id,
        CommentTopic.question_id == CommentAnalysis.question_id,
    )
    rows = (
        await session.execute(
            select(CommentAnalysis.keywords, CommentAnalysis.masked_text)
            .outerjoin(Unit, Unit.id == CommentAnalysis.unit_id)
            .where(
                CommentAnalysis.tenant_id == principal.tenant_id,
                reach.unit_clause(Unit.id, Unit.path),
                ~covered.exists(),
            )
            .order_by(CommentAnalysis.analyzed_at.desc())
            .limit(SCAN_LIMIT)
        )
    ).all()
    documents = [(set(keywords or []), text) for keywords, text in rows]
    counts: Counter[str] = Counter(k for words, _ in documents for k in words)
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for keyword, count in counts.most_common():
        if count < MIN_COMMENTS or len(out) >= limit:
            break
        if keyword in used:
            continue
        members = [(words, text) for words, text in documents if keyword in words]
        related = Counter(k for words, _ in members for k in words if k != keyword)
        seeds = [k for k, c in related.most_common(5) if c >= 2]
        used.add(keyword)
        used.update(seeds[:2])
        out.append(
            {
                "keyword": keyword,
                "related": seeds,
                "comments": count,
                "examples": [text[:200] for _, text in members[:3]],
            }
        )
    return out
