"""Collection jobs: hand each stored response to the pipeline's subscribers."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.pipeline import RESPONSE_STORED, subscribers
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.collection")


class StoredPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    response_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]


@job(RESPONSE_STORED)
async def run_response_stored(session: AsyncSession, payload: dict[str, Any]) -> None:
    response_id = StoredPayload.model_validate(payload).response_id
    registered = subscribers()
    for subscriber in registered.values():
        await subscriber(session, response_id, payload)
    log.info("response %s handed to %d subscriber(s)", response_id, len(registered))
