"""The post-commit pipeline: what happens to each stored response.

Alerts, text analytics and rollups register a subscriber here. Each runs in
a lane: ``prompt`` (the default: what someone waits for, like alerts, cases
and rollups) or ``background`` (slow work like text analysis, which must
never hold an alert up). The ``collection.response_stored`` job (one per
stored response, or one per stored batch carrying all its ids, enqueued in
the same transaction through the outbox) calls each prompt subscriber once
per response, in registration order, inside the job's transaction, and in
that transaction enqueues one ``collection.response_stored.background`` job
that does the same for the background lane. Each lane is a job of its own,
so each is exactly once across crashes. A job also drains other waiting
jobs of its lane into its transaction (docs/adr/0028-*). A subscriber
registered with ``subscribe_batch`` is called once per batch with all its
responses instead, so that it can be set-based.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

RESPONSE_STORED = "collection.response_stored"
RESPONSE_STORED_BACKGROUND = "collection.response_stored.background"

PROMPT, BACKGROUND = "prompt", "background"
LANES = (PROMPT, BACKGROUND)

# subscriber(session, response_id, payload); it must tolerate running again
# after a crash before the job's commit, like any job handler.
Subscriber = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[None]]
# A set-based subscriber's body: every (response_id, payload) of the batch at once,
# in the order a per-response subscriber would get them.
BatchBody = Callable[[AsyncSession, list[tuple[str, dict[str, Any]]]], Awaitable[None]]


class BatchSubscriber:
    """A subscriber that takes a whole batch in one call (``subscribe_batch``), so that
    it can read and write with a few statements per batch instead of several per
    response. Called with one response, it is a plain ``Subscriber``."""

    def __init__(self, body: BatchBody) -> None:
        self.body = body
        self.__name__ = getattr(body, "__name__", "batch_subscriber")

    async def __call__(self, session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
        await self.body(session, [(response_id, payload)])

    async def batch(self, session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
        if items:
            await self.body(session, items)


class Registry:
    """Subscribers by stable name, called in registration order (one per name)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._by_name: dict[str, Subscriber] = {}
        # A name's lane outlives an unsubscribe, so that re-registering the same
        # name (tests that swap subscribers) keeps it where its domain put it.
        self._lanes: dict[str, str] = {}

    def subscribe(self, name: str, *, lane: str | None = None) -> Callable[[Subscriber], Subscriber]:
        if lane is not None and lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}")

        def register(subscriber: Subscriber) -> Subscriber:
            known = self._by_name.get(name)
            if known is not None and known is not subscriber:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._by_name[name] = subscriber
            if lane is not None:
                self._lanes[name] = lane
            return subscriber

        return register

    def unsubscribe(self, name: str) -> None:
        self._by_name.pop(name, None)

    def all(self) -> dict[str, Subscriber]:
        return dict(self._by_name)

    def lane_of(self, name: str) -> str:
        return self._lanes.get(name, PROMPT)

    def in_lane(self, lane: str) -> dict[str, Subscriber]:
        return {name: each for name, each in self._by_name.items() if self.lane_of(name) == lane}


_stored = Registry("subscriber")


def subscribe(name: str, *, lane: str | None = None) -> Callable[[Subscriber], Subscriber]:
    """Register ``subscriber`` under a stable name (one per name), in ``lane``
    (``PROMPT`` unless said otherwise)."""
    return _stored.subscribe(name, lane=lane)


def subscribe_batch(name: str, *, lane: str | None = None) -> Callable[[BatchBody], BatchSubscriber]:
    """Register a set-based subscriber ``body(session, [(response_id, payload), ...])``,
    called once per batch (one job transaction) with every response of it."""

    def register(body: BatchBody) -> BatchSubscriber:
        batched = BatchSubscriber(body)
        _stored.subscribe(name, lane=lane)(batched)
        return batched

    return register


def unsubscribe(name: str) -> None:
    _stored.unsubscribe(name)


def subscribers() -> dict[str, Subscriber]:
    return _stored.all()


def lane_subscribers(lane: str) -> dict[str, Subscriber]:
    return _stored.in_lane(lane)


_BATCH_KEY = "cxloop_pipeline_batch"


def batch_response_ids(session: AsyncSession) -> tuple[str, ...]:
    """The responses the running pipeline job hands to subscribers in this
    transaction (empty outside one), so that a subscriber can load what it needs
    for all of them at once. Only for what no subscriber writes meanwhile."""
    ids: tuple[str, ...] = session.info.get(_BATCH_KEY, ())
    return ids


def set_batch(session: AsyncSession, response_ids: tuple[str, ...]) -> None:
    session.info[_BATCH_KEY] = response_ids
