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
from cxloop.kit.jobs import job
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
