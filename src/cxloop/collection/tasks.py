"""Collection jobs: hand each stored response to the pipeline's subscribers."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.pipeline import RESPONSE_STORED, subscribers
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.collection")

ResponseId = Annotated[str, StringConstraints(min_length=1, max_length=26)]


class StoredPayload(BaseModel):
    """One response (``response_id``) or a stored batch of them (``response_ids``)."""

    model_config = ConfigDict(extra="allow")

    response_id: ResponseId | None = None
    response_ids: list[ResponseId] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> StoredPayload:
        if (self.response_id is None) == (self.response_ids is None):
            raise ValueError("needs response_id or response_ids")
        return self


@job(RESPONSE_STORED)
async def run_response_stored(session: AsyncSession, payload: dict[str, Any]) -> None:
    # Every subscriber gets each response once, with the one-response payload
    # it has always had; a batch job's writes commit (or retry) together.
    parsed = StoredPayload.model_validate(payload)
    ids = parsed.response_ids if parsed.response_ids is not None else [str(parsed.response_id)]
    shared = {key: value for key, value in payload.items() if key not in ("response_id", "response_ids")}
    registered = subscribers()
    for response_id in ids:
        each = {"response_id": response_id, **shared}
        for subscriber in registered.values():
            await subscriber(session, response_id, each)
    log.info("%d response(s) handed to %d subscriber(s)", len(ids), len(registered))
