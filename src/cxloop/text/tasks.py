"""Job handlers of the text domain (imported by cxloop.worker.jobs).

The pipeline subscriber analyses each open-text answer of a stored (or
edited) response and rewrites its rows, so a re-run leaves the same result.
It registers here, before analytics and alerts (JOB_MODULES order), so
their subscribers see the analyses in the same job.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import subscribe, subscribe_edits
from cxloop.kit.jobs import job
from cxloop.text.service import TRAIN_TOPICS, analyze_response, train_topics

log = logging.getLogger("cxloop.text")


@subscribe("text.analyze")
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
