"""Collection jobs: hand each stored response to the pipeline's subscribers.

One job per lane (``pipeline.PROMPT``, ``pipeline.BACKGROUND``). A job runs
its own responses, then drains other due jobs of its lane into the same
transaction (up to ``DRAIN_RESPONSES`` responses), so that under load the
worker pays one transaction, one job row and one broker round trip for many
responses instead of one each, and the backlog that alerts wait behind
shrinks by the same factor. Subscribers are still called once per response.
A drained job whose response fails is left out (its savepoint is rolled
back) and runs on its own later with its own retries, so one bad response
never holds a batch hostage. See docs/adr/0028-*.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.models import Response
from cxloop.collection.pipeline import (
    BACKGROUND,
    PROMPT,
    RESPONSE_STORED,
    RESPONSE_STORED_BACKGROUND,
    Subscriber,
    lane_subscribers,
    set_batch,
)
from cxloop.kit.jobs import PRIORITY_BACKGROUND, claim_waiting, enqueue, finish_claimed, job

log = logging.getLogger("cxloop.collection")

ResponseId = Annotated[str, StringConstraints(min_length=1, max_length=26)]

# At most this many responses per job transaction. Bounded because alerts from
# the batch are seen only at its commit, and on SQLite the job holds the write
# lock meanwhile: 50 prompt-lane responses take ~0.1-0.3 s.
DRAIN_RESPONSES = 50
# Drained jobs are read this many at a time until the batch is full.
DRAIN_CLAIM = 25
# Stop draining once the transaction has run this long (seconds). The background
# lane (a text model per comment) stops sooner, so that a worker thread is soon
# free again for the prompt lane and for notifications.
DRAIN_SECONDS = {PROMPT: 0.5, BACKGROUND: 0.25}


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


def _ids_and_shared(payload: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    parsed = StoredPayload.model_validate(payload)
    ids = parsed.response_ids if parsed.response_ids is not None else [str(parsed.response_id)]
    shared = {key: value for key, value in payload.items() if key not in ("response_id", "response_ids")}
    return ids, shared


async def _hand(
    session: AsyncSession, registered: dict[str, Subscriber], ids: list[str], shared: dict[str, Any]
) -> None:
    # Every subscriber gets each response once, with the one-response payload
    # it has always had.
    for response_id in ids:
        each = {"response_id": response_id, **shared}
        for subscriber in registered.values():
            await subscriber(session, response_id, each)


async def _preload(session: AsyncSession, ids: list[str]) -> list[Response]:
    # One query for the batch; every subscriber's session.get then hits the
    # identity map. The caller keeps the list so the rows stay in it.
    found: list[Response] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += (await session.execute(select(Response).where(Response.id.in_(chunk)))).scalars().all()
    return found


async def _run_lane(session: AsyncSession, lane: str, name: str, payload: dict[str, Any]) -> None:
    started = time.monotonic()
    limit = DRAIN_SECONDS[lane]
    registered = lane_subscribers(lane)
    ids, shared = _ids_and_shared(payload)
    own: list[tuple[str | None, list[str], dict[str, Any]]] = [(None, ids, shared)]
    handled: list[tuple[list[str], dict[str, Any]]] = []
    count, drained, left_out, first = 0, 0, 0, True
    seen: set[str] = set()
    kept: list[Response] = []
    while True:
        batch = own if first else []
        budget = DRAIN_RESPONSES - len(ids) - count if first else DRAIN_RESPONSES - count
        if budget > 0 and time.monotonic() - started < limit:
            for claim in await claim_waiting(session, name, limit=min(DRAIN_CLAIM, budget)):
                if claim.job_id in seen:
                    continue
                seen.add(claim.job_id)
                try:
                    their_ids, their_shared = _ids_and_shared(claim.payload)
                except ValidationError:
                    left_out += 1  # its own run reports the bad payload
                    continue
                if len(their_ids) > budget:
                    continue  # too big for this batch: it runs on its own
                budget -= len(their_ids)
                batch.append((claim.job_id, their_ids, their_shared))
        if not batch:
            break
        all_ids = [i for _, each, _ in batch for i in each]
        set_batch(session, tuple(all_ids))
        kept += await _preload(session, all_ids)
        finished: list[str] = []
        for job_id, their_ids, their_shared in batch:
            if job_id is None:  # the job's own responses: a failure fails the job
                await _hand(session, registered, their_ids, their_shared)
            elif lane == BACKGROUND and time.monotonic() - started >= limit:
                # Out of time (a text model per comment): the rest stay claimed only
                # until this commit and run later, so the thread is soon free for the
                # prompt lane. The prompt lane finishes what it claimed: under load
                # the job's fixed cost (locks, claim, commit, hand-off) alone can
                # exceed the limit, and leaving claims out would shrink every batch
                # to a response or two exactly when batching matters most.
                continue
            else:
                try:
                    async with session.begin_nested():
                        await _hand(session, registered, their_ids, their_shared)
                except Exception:
                    log.warning("drained job %s failed; it runs on its own", job_id, exc_info=True)
                    left_out += 1
                    continue
                finished.append(job_id)
            handled.append((their_ids, their_shared))
            count += len(their_ids)
        await finish_claimed(session, finished)
        drained += len(finished)
        first = False
        if len(batch) - (1 if batch is own else 0) < DRAIN_CLAIM // 2:
            break  # the backlog is drained (or too small to bother)
    set_batch(session, ())
    if lane == PROMPT and lane_subscribers(BACKGROUND):
        _enqueue_background(session, handled)
    log.info(
        "%s: %d response(s) (%d drained job(s), %d left out) handed to %d subscriber(s)",
        lane,
        count,
        drained,
        left_out,
        len(registered),
    )
    del kept


def _enqueue_background(session: AsyncSession, handled: list[tuple[list[str], dict[str, Any]]]) -> None:
    # One background job per survey and tenant (the payload's shared fields), in
    # this transaction: it exists exactly when the prompt lane's work commits.
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for ids, shared in handled:
        key = repr(sorted(shared.items()))
        groups.setdefault(key, ([], shared))[0].extend(ids)
    for ids, shared in groups.values():
        enqueue(session, RESPONSE_STORED_BACKGROUND, {**shared, "response_ids": ids})


@job(RESPONSE_STORED)
async def run_response_stored(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _run_lane(session, PROMPT, RESPONSE_STORED, payload)


@job(RESPONSE_STORED_BACKGROUND, priority=PRIORITY_BACKGROUND)
async def run_response_stored_background(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _run_lane(session, BACKGROUND, RESPONSE_STORED_BACKGROUND, payload)
