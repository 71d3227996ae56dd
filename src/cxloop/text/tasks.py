"""Job handlers of the text domain (imported by cxloop.worker.jobs).

The pipeline subscriber analyses each open-text answer of a stored (or
edited) response and rewrites its rows, so a re-run leaves the same result.
It runs in the pipeline's background lane; alerts rules on text facts run
after it in that lane (JOB_MODULES order), so they see the analyses.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import BACKGROUND, subscribe, subscribe_edits
from cxloop.identity import Actor, record
from cxloop.kit.jobs import PREPARED, PRIORITY_BACKGROUND, enqueue, job
from cxloop.text.adapt import (
    ADAPT_DUE_JOB,
    ADAPT_JOB,
    Adaptation,
    adaptation_due,
    last_adaptation,
    learn,
    save,
    tenants_due,
)
from cxloop.text.service import TRAIN_TOPICS, analyze_response, train_topics

log = logging.getLogger("cxloop.text")


# Slow (a model per comment): the background lane, so alerts never wait for it.
@subscribe("text.analyze", lane=BACKGROUND)
async def analyze_stored(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    count = await analyze_response(session, response_id)
    log.debug("response %s: %d comment(s) analysed", response_id, count)


@subscribe_edits("text.analyze")
async def analyze_edited(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    await analyze_response(session, response_id)


@job(TRAIN_TOPICS)
async def run_train_topics(session: AsyncSession, payload: dict[str, Any]) -> None:
    tenant_id = str(payload["tenant_id"])
    examples = await train_topics(session, tenant_id)
    log.info("tenant %s: topic model refit from %d corrected comment(s)", tenant_id, examples)


async def _due_tenants(session: AsyncSession, payload: dict[str, Any]) -> list[str]:
    return await tenants_due(session)


@job(ADAPT_DUE_JOB, priority=PRIORITY_BACKGROUND, prepare=_due_tenants)
async def run_adapt_due(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Periodic: one adaptation job per tenant whose comments call for one."""
    for tenant_id in payload[PREPARED]:
        enqueue(session, ADAPT_JOB, {"tenant_id": tenant_id})


async def _last_adapted(session: AsyncSession, tenant_id: str) -> Any:
    last = await last_adaptation(session, tenant_id)
    return None if last is None else last.trained_at


async def _learn_if_due(session: AsyncSession, payload: dict[str, Any]) -> tuple[Adaptation, Any] | None:
    tenant_id = str(payload["tenant_id"])
    if not await adaptation_due(session, tenant_id):
        return None
    return await learn(session, tenant_id), await _last_adapted(session, tenant_id)


# The model runs over up to 20,000 comments: before the write transaction (kit.jobs ``prepare``).
@job(ADAPT_JOB, max_attempts=3, priority=PRIORITY_BACKGROUND, prepare=_learn_if_due)
async def run_adapt(session: AsyncSession, payload: dict[str, Any]) -> None:
    prepared: tuple[Adaptation, Any] | None = payload[PREPARED]
    if prepared is None:  # not due (any more): a second job for the same growth
        return
    adaptation, seen = prepared
    if await _last_adapted(session, str(payload["tenant_id"])) != seen:  # another job adapted meanwhile
        return
    tenant_id = str(payload["tenant_id"])
    await save(session, tenant_id, adaptation)
    record(
        session,
        Actor(tenant_id=tenant_id, label="automatic adaptation"),
        "text.adapted",
        target_type="tenant",
        target_id=tenant_id,
        details={
            "comments": adaptation.comments,
            "english_comments": adaptation.mix_comments,
            "class_mix": adaptation.mix,
            "word_model_taught_by": adaptation.taught_by,
            "scored_comments": adaptation.learned,
        },
    )
    log.info("tenant %s: sentiment adapted to %d comments", tenant_id, adaptation.comments)
