"""The ``collection.response_edited`` job: tell later consumers that a stored
response changed through an audited edit.

Consumers that keep something derived from answers (alerts, rollups) register
with ``subscribe_edits(name)``; the job, enqueued in the edit's transaction,
calls each of them once, in registration order, inside the job's transaction.
With none registered it only records that it ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.pipeline import Registry, Subscriber
from cxloop.kit.jobs import job

RESPONSE_EDITED = "collection.response_edited"

log = logging.getLogger("cxloop.collection")

_edits = Registry("edit subscriber")


def subscribe_edits(name: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``subscriber(session, response_id, payload)`` for edits, under a stable name."""
    return _edits.subscribe(name)


def unsubscribe_edits(name: str) -> None:
    _edits.unsubscribe(name)


def edit_subscribers() -> dict[str, Subscriber]:
    return _edits.all()


class EditedPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    response_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]
    revision: int


@job(RESPONSE_EDITED)
async def run_response_edited(session: AsyncSession, payload: dict[str, Any]) -> None:
    edited = EditedPayload.model_validate(payload)
    registered = edit_subscribers()
    for subscriber in registered.values():
        await subscriber(session, edited.response_id, payload)
    log.info(
        "response %s revision %d handed to %d edit subscriber(s)",
        edited.response_id,
        edited.revision,
        len(registered),
    )
