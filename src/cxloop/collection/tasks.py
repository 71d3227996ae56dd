"""Collection jobs: hand each stored response to the pipeline's subscribers.

One job per lane (``pipeline.PROMPT``, ``pipeline.BACKGROUND``). A job runs
its own responses, then drains other due jobs of its lane into the same
transaction (up to ``DRAIN_RESPONSES`` responses), so that under load the
worker pays one transaction, one job row and one broker round trip for many
responses instead of one each, and the backlog that alerts wait behind
shrinks by the same factor. Each subscriber gets each response once: a
set-based one (``subscribe_batch``, every prompt-lane subscriber of the
domains) the whole batch in one call, any other one response at a time. A
drained job whose response fails is left out (the batch's savepoint is
rolled back and the rest handed again) and runs on its own later with its
own retries, so one bad response never holds a batch hostage. See
docs/adr/0028-* and its amendment.
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
    BatchSubscriber,
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
# Drained jobs are read this many at a time until the batch is full: the prompt lane
# (set-based subscribers) fills its batch with one claim and hands it over at once; the
# background lane takes smaller bites, because it stops at its time limit.
DRAIN_CLAIM = {PROMPT: DRAIN_RESPONSES, BACKGROUND: 25}
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


Entry = tuple[str | None, list[str], dict[str, Any]]  # (drained job id or None for its own, ids, shared)


async def _hand(
    session: AsyncSession, registered: dict[str, Subscriber], entries: list[Entry], where: list[str]
) -> None:
    # Every subscriber gets each response once, with the one-response payload it has
    # always had: a set-based one (subscribe_batch) all of them in one call, any other
    # one response at a time. ``where`` names the response a per-response subscriber
    # was given last (empty while a set-based one runs), so that a failure can be
    # pinned on its job.
    items = [(rid, {"response_id": rid, **shared}) for _, ids, shared in entries for rid in ids]
    for subscriber in registered.values():
        if isinstance(subscriber, BatchSubscriber):
            where.clear()
            await subscriber.batch(session, items)
            continue
        for response_id, each in items:
            where[:] = [response_id]
            await subscriber(session, response_id, each)
    where.clear()


async def _hand_together(
    session: AsyncSession, registered: dict[str, Subscriber], entries: list[Entry]
) -> tuple[list[Entry], int]:
    """Hand the whole batch to every subscriber at once; returns the entries handled and
    how many drained jobs were left out.

    With drained jobs the batch runs in a savepoint. If it fails on a response of a
    drained job, that job is left out (it runs later on its own message, with its own
    retries) and the rest is handed again; if it fails on the job's own response, the
    job fails as before; if a set-based subscriber failed (no response to blame), the
    batch is handed again one job at a time, each drained job in its own savepoint."""
    where: list[str] = []
    if all(job_id is None for job_id, _, _ in entries):
        await _hand(session, registered, entries, where)
        return entries, 0
    try:
        async with session.begin_nested():
            await _hand(session, registered, entries, where)
        return entries, 0
    except Exception:
        failing = next((entry for entry in entries if where and where[0] in entry[1]), None)
        if failing is not None and failing[0] is None:
            raise  # the job's own response: the job fails and every claim with it
        log.warning(
            "batch of %d job(s) failed %s",
            len(entries),
            f"on drained job {failing[0]}; handing it again without that job"
            if failing is not None
            else "in a set-based subscriber; handing it again one job at a time",
            exc_info=True,
        )
    if failing is not None:
        handled, left_out = await _hand_together(
            session, registered, [e for e in entries if e is not failing]
        )
        return handled, left_out + 1
    handled, left_out = [], 0
    for entry in entries:
        if await _hand_one(session, registered, entry, where):
            handled.append(entry)
        else:
            left_out += 1
    return handled, left_out


async def _hand_one(
    session: AsyncSession, registered: dict[str, Subscriber], entry: Entry, where: list[str]
) -> bool:
    """Hand one entry on its own. The job's own responses (no drained job id)
    fail the job; a drained job's failure is rolled back to its savepoint and
    left out (False), so it runs later on its own message."""
    if entry[0] is None:
        await _hand(session, registered, [entry], where)
        return True
    try:
        async with session.begin_nested():
            await _hand(session, registered, [entry], where)
    except Exception:
        log.warning("drained job %s failed; it runs on its own", entry[0], exc_info=True)
        return False
    return True


async def _preload(session: AsyncSession, ids: list[str]) -> list[Response]:
    # One query for the batch; every subscriber's session.get then hits the
    # identity map. The caller keeps the list so the rows stay in it.
    found: list[Response] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += (await session.execute(select(Response).where(Response.id.in_(chunk)))).scalars().all()
    return found


async def _claim(
    session: AsyncSession, name: str, limit: int, budget: int, seen: set[str], batch: list[Entry]
) -> int:
    """Claim waiting jobs of ``name`` into ``batch`` for up to ``budget`` responses;
    returns how many had a bad payload (left out: their own run reports it)."""
    bad = 0
    for claim in await claim_waiting(session, name, limit=min(limit, budget)):
        if claim.job_id in seen:
            continue
        seen.add(claim.job_id)
        try:
            their_ids, their_shared = _ids_and_shared(claim.payload)
        except ValidationError:
            bad += 1
            continue
        if len(their_ids) > budget:
            continue  # too big for this batch: it runs on its own
        budget -= len(their_ids)
        batch.append((claim.job_id, their_ids, their_shared))
    return bad


async def _run_lane(session: AsyncSession, lane: str, name: str, payload: dict[str, Any]) -> None:
    started = time.monotonic()
    limit = DRAIN_SECONDS[lane]
    registered = lane_subscribers(lane)
    ids, shared = _ids_and_shared(payload)
    own: list[Entry] = [(None, ids, shared)]
    handled: list[tuple[list[str], dict[str, Any]]] = []
    count, drained, left_out, first = 0, 0, 0, True
    seen: set[str] = set()
    kept: list[Response] = []
    while True:
        batch = own if first else []
        budget = DRAIN_RESPONSES - len(ids) - count if first else DRAIN_RESPONSES - count
        if budget > 0 and time.monotonic() - started < limit:
            left_out += await _claim(session, name, DRAIN_CLAIM[lane], budget, seen, batch)
        if not batch:
            break
        claimed = len(batch) - (1 if first else 0)
        all_ids = [i for _, each, _ in batch for i in each]
        set_batch(session, tuple(all_ids))
        kept += await _preload(session, all_ids)
        if lane == PROMPT:
            # The prompt lane finishes what it claimed: under load the job's fixed cost
            # (locks, claim, commit, hand-off) alone can exceed the limit, and leaving
            # claims out would shrink every batch exactly when batching matters most.
            done, missed = await _hand_together(session, registered, batch)
        else:
            done, missed = await _hand_one_by_one(session, registered, batch, started, limit)
        left_out += missed
        finished = [job_id for job_id, _, _ in done if job_id is not None]
        handled += [(their_ids, their_shared) for _, their_ids, their_shared in done]
        count += sum(len(their_ids) for _, their_ids, _ in done)
        await finish_claimed(session, finished)
        drained += len(finished)
        first = False
        if claimed < DRAIN_CLAIM[lane] // 2:
            break  # the backlog is drained (or too small to bother)
    set_batch(session, ())
    if lane == PROMPT and lane_subscribers(BACKGROUND):
        _enqueue_background(session, handled)
    log.info(
        "%s: %d response(s) (%d drained job(s), %d left out) handed to %d subscriber(s) in %.0f ms",
        lane,
        count,
        drained,
        left_out,
        len(registered),
        (time.monotonic() - started) * 1000,
    )
    del kept


async def _hand_one_by_one(
    session: AsyncSession, registered: dict[str, Subscriber], batch: list[Entry], started: float, limit: float
) -> tuple[list[Entry], int]:
    # The background lane (a text model per comment) hands one job at a time and stops
    # once out of time: the rest stay claimed only until this commit and run later, so
    # that the thread is soon free for the prompt lane.
    where: list[str] = []
    done: list[Entry] = []
    left_out = 0
    for entry in batch:
        # Past the limit only drained jobs are skipped: the job's own responses always run.
        if entry[0] is not None and time.monotonic() - started >= limit:
            continue
        if await _hand_one(session, registered, entry, where):
            done.append(entry)
        else:
            left_out += 1
    return done, left_out


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
