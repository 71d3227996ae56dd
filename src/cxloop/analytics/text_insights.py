"""What customers' own words say, next to the scores: topic volume and
sentiment over time, the topics that pull NPS down, and the phrases whose
share of comments grew most against the previous period.

Each reads the same responses a metrics query would (``make_plan`` checks the
body and applies the caller's scope and filters, ``raw_sheets`` reads them)
and the text domain's stored analyses of those responses, so the numbers
agree with ``POST /api/v1/metrics/query`` on the same filters. Groups below
the tenant's anonymity threshold are left out and counted, as there.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.text as text_domain
from cxloop.analytics import stats
from cxloop.analytics.metrics import Acc, add_nps, score
from cxloop.analytics.plan import TIME_GROUPS, Plan, make_plan
from cxloop.analytics.schemas import MetricsQuery
from cxloop.analytics.sources import Sheet, Slice, raw_sheets, time_key
from cxloop.identity import Principal
from cxloop.kit.errors import invalid

ALPHA = 0.05
# Worst first: a response mentioning a topic twice counts with its most negative mention.
SENTIMENT_ORDER = {"negative": 0, "neutral": 1, "positive": 2}
CHUNK = 500


@dataclass(frozen=True)
class TextOptions:
    """How much each insight shows."""

    topics: int = 8  # topic trends: the most mentioned topics
    limit: int = 10  # rising phrases: how many
    min_count: int = 3  # rising phrases: mentions needed in the period


def _r(value: float | None, digits: int = 2) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits)


async def _plan(session: AsyncSession, principal: Principal, query: MetricsQuery) -> Plan:
    return await make_plan(session, principal, query)


async def _topic_rows(
    session: AsyncSession, tenant_id: str, response_ids: list[str]
) -> dict[str, dict[str, str]]:
    """Per response, its topics and each one's most negative mention."""
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(response_ids), CHUNK):
        rows = await session.execute(
            select(
                text_domain.CommentTopic.response_id,
                text_domain.CommentTopic.topic_path,
                text_domain.CommentTopic.sentiment,
            ).where(
                text_domain.CommentTopic.tenant_id == tenant_id,
                text_domain.CommentTopic.response_id.in_(response_ids[start : start + CHUNK]),
            )
        )
        for response_id, path, sentiment in rows:
            topics = found.setdefault(response_id, {})
            known = topics.get(path)
            if known is None or SENTIMENT_ORDER.get(sentiment, 1) < SENTIMENT_ORDER.get(known, 1):
                topics[path] = sentiment
    return found


async def _terms(session: AsyncSession, tenant_id: str, response_ids: list[str]) -> list[set[str]]:
    """One set of keywords and key phrases per analysed comment of these responses."""
    comments: list[set[str]] = []
    for start in range(0, len(response_ids), CHUNK):
        rows = await session.execute(
            select(text_domain.CommentAnalysis.keywords, text_domain.CommentAnalysis.phrases).where(
                text_domain.CommentAnalysis.tenant_id == tenant_id,
                text_domain.CommentAnalysis.response_id.in_(response_ids[start : start + CHUNK]),
            )
        )
        for keywords, phrases in rows:
            words = [w for w in (keywords or []) + (phrases or []) if isinstance(w, str) and w.strip()]
            comments.append({w.strip() for w in words})
    return comments


def _meta(plan: Plan, suppressed: int) -> dict[str, Any]:
    notes = []
    if suppressed:
        notes.append(
            f"{suppressed} group(s) with fewer than {plan.min_n} responses are not shown (anonymity)."
        )
    return {
        "period": {
            "date_from": plan.filters.date_from.isoformat(),
            "date_to": plan.filters.date_to.isoformat(),
        },
        "min_n": plan.min_n,
        "suppressed_groups": suppressed,
        "notes": notes,
    }


def _main_slice(plan: Plan) -> Slice:
    return Slice(plan.filters.date_from, plan.filters.date_to, plan.visible_units, ())


async def topic_trends(
    session: AsyncSession, principal: Principal, query: MetricsQuery, options: TextOptions | None = None
) -> dict[str, Any]:
    """Mentions of each topic per period (responses mentioning it) and their sentiment."""
    options = options or TextOptions()
    plan = await _plan(session, principal, query)
    grains = [g for g in plan.groups if g in TIME_GROUPS]
    if len(grains) != 1 or len(plan.groups) != 1:
        raise invalid("group_by", "Topic trends take one time grain: day, week, month, quarter or year.")
    grain = grains[0]
    sheets = await raw_sheets(session, plan, _main_slice(plan))
    topics = await _topic_rows(session, plan.tenant_id, [s.row.id for s in sheets])
    counts: dict[tuple[str, str], Counter[str]] = {}
    totals: Counter[str] = Counter()
    for sheet in sheets:
        mentioned = topics.get(sheet.row.id)
        if not mentioned:
            continue
        period = time_key(grain, sheet.row.submitted_at.astimezone(plan.tz).date().isoformat())
        for path, sentiment in mentioned.items():
            counts.setdefault((period, path), Counter())[sentiment] += 1
            totals[path] += 1
    top = {path for path, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[: options.topics]}
    rows: list[dict[str, Any]] = []
    suppressed = 0
    for (period, path), tally in sorted(counts.items()):
        if path not in top:
            continue
        mentions = sum(tally.values())
        if mentions < plan.min_n:
            suppressed += 1
            continue
        negative, positive = tally.get("negative", 0), tally.get("positive", 0)
        rows.append(
            {
                grain: period,
                "topic": path,
                "mentions": mentions,
                "negative": negative,
                "neutral": tally.get("neutral", 0),
                "positive": positive,
                "negative_pct": _r(negative / mentions * 100),
                "net_sentiment": _r((positive - negative) / mentions * 100),
            }
        )
    return {"rows": rows, "total_rows": len(rows), **_meta(plan, suppressed)}


def _nps_of(sheets: list[Sheet]) -> Acc:
    acc = Acc()
    for sheet in sheets:
        value = score(sheet.answers, sheet.shape.nps)
        if value is not None:
            add_nps(acc, value, sheet.weight)
    return acc


def _nps(acc: Acc) -> float | None:
    """Unrounded, so differences are rounded once."""
    return (acc.h1 - acc.h2) / acc.w * 100 if acc.w > 0 else None


async def topic_impact(
    session: AsyncSession, principal: Principal, query: MetricsQuery, options: TextOptions | None = None
) -> dict[str, Any]:
    """Per topic: the NPS of the responses that mention it against those that do not, and how many
    points it pulls the overall NPS (overall minus NPS without the topic), worst first."""
    plan = await _plan(session, principal, query)
    if plan.metrics != ["nps"] or plan.groups:
        raise invalid("metrics", "Topic impact explains NPS: metrics ['nps'] and no group_by.")
    sheets = [
        s
        for s in await raw_sheets(session, plan, _main_slice(plan))
        if score(s.answers, s.shape.nps) is not None
    ]
    topics = await _topic_rows(session, plan.tenant_id, [s.row.id for s in sheets])
    overall = _nps_of(sheets)
    by_topic: dict[str, list[Sheet]] = {}
    for sheet in sheets:
        for path in topics.get(sheet.row.id, {}):
            by_topic.setdefault(path, []).append(sheet)
    rows: list[dict[str, Any]] = []
    raw_p: list[float] = []
    suppressed = 0
    for path, mentioning in sorted(by_topic.items()):
        ids = {s.row.id for s in mentioning}
        with_topic = _nps_of(mentioning)
        without = _nps_of([s for s in sheets if s.row.id not in ids])
        if with_topic.n < plan.min_n or without.n < plan.min_n:
            suppressed += 1
            continue
        test = stats.nps_difference(
            (with_topic.h1, with_topic.h2, with_topic.w, with_topic.n_eff),
            (without.h1, without.h2, without.w, without.n_eff),
        )
        mine, theirs, everyone = _nps(with_topic), _nps(without), _nps(overall)
        rows.append(
            {
                "topic": path,
                "n": with_topic.n,
                "nps": _r(mine),
                "n_without": without.n,
                "nps_without": _r(theirs),
                "difference": _r(mine - theirs) if mine is not None and theirs is not None else None,
                "impact": _r(everyone - theirs) if everyone is not None and theirs is not None else None,
                "share_pct": _r(with_topic.n / overall.n * 100) if overall.n else None,
                "p_value": _r(test.p_value, 6),
            }
        )
        raw_p.append(test.p_value)
    adjusted = stats.CORRECTIONS[plan.correction](raw_p) if plan.correction != "none" else list(raw_p)
    for row, q in zip(rows, adjusted, strict=True):
        row["p_adjusted"] = _r(q, 6)
        row["significant"] = None if math.isnan(q) else bool(q < ALPHA)
    rows.sort(key=lambda r: (r["impact"] if r["impact"] is not None else 0.0, r["topic"]))
    meta = _meta(plan, suppressed)
    return {"rows": rows, "total_rows": len(rows), "nps": _r(_nps(overall)), "n": overall.n, **meta}


async def rising_phrases(
    session: AsyncSession, principal: Principal, query: MetricsQuery, options: TextOptions | None = None
) -> dict[str, Any]:
    """Keywords and phrases whose share of comments grew most against the period before."""
    options = options or TextOptions()
    plan = await _plan(session, principal, query)
    if plan.groups:
        raise invalid("group_by", "Rising phrases compare whole periods: no group_by.")
    start, end = plan.filters.date_from, plan.filters.date_to
    length = (end - start).days + 1
    before = Slice(start - timedelta(days=length), start - timedelta(days=1), plan.visible_units, ())
    now_sheets = await raw_sheets(session, plan, _main_slice(plan))
    then_sheets = await raw_sheets(session, plan, before)
    now = await _terms(session, plan.tenant_id, [s.row.id for s in now_sheets])
    then = await _terms(session, plan.tenant_id, [s.row.id for s in then_sheets])
    meta = _meta(plan, 0)
    meta["comparison_period"] = {
        "date_from": before.date_from.isoformat(),
        "date_to": before.date_to.isoformat(),
    }
    meta["comments"], meta["comments_before"] = len(now), len(then)
    if len(now) < plan.min_n or len(then) < plan.min_n:
        meta["suppressed_groups"] = 1
        meta["notes"].append(
            f"Rising phrases need at least {plan.min_n} comments in this period and in the one before."
        )
        return {"rows": [], "total_rows": 0, **meta}
    counted_now = Counter(term for terms in now for term in terms)
    counted_then = Counter(term for terms in then for term in terms)
    found: list[dict[str, Any]] = []
    for term, count in counted_now.items():
        if count < options.min_count:
            continue
        earlier = counted_then.get(term, 0)
        share, share_before = count / len(now) * 100, earlier / len(then) * 100
        if share <= share_before:
            continue
        test = stats.two_proportions(count, len(now), earlier, len(then))
        found.append(
            {
                "phrase": term,
                "count": count,
                "count_before": earlier,
                "share_pct": _r(share),
                "share_before_pct": _r(share_before),
                "growth_points": _r(share - share_before),
                "p_value": _r(test.p_value, 6),
                "significant": bool(test.p_value < ALPHA) if not math.isnan(test.p_value) else None,
            }
        )
    found.sort(key=lambda r: (-(r["growth_points"] or 0.0), -r["count"], r["phrase"]))
    rows = found[: options.limit]
    return {"rows": rows, "total_rows": len(rows), **meta}
