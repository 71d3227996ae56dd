"""The post-commit pipeline: what happens to each stored response.

Alerts, text analytics and rollups register a subscriber here; the
``collection.response_stored`` job (one per stored response, or one per
stored batch carrying all its ids, enqueued in the same transaction through
the outbox) calls each of them once per response, in registration order,
inside the job's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

RESPONSE_STORED = "collection.response_stored"

# subscriber(session, response_id, payload); it must tolerate running again
# after a crash before the job's commit, like any job handler.
Subscriber = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[None]]

_subscribers: dict[str, Subscriber] = {}


def subscribe(name: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``subscriber`` under a stable name (one per name)."""

    def register(subscriber: Subscriber) -> Subscriber:
        if name in _subscribers and _subscribers[name] is not subscriber:
            raise ValueError(f"subscriber {name!r} is registered twice")
        _subscribers[name] = subscriber
        return subscriber

    return register


def unsubscribe(name: str) -> None:
    _subscribers.pop(name, None)


def subscribers() -> dict[str, Subscriber]:
    return dict(_subscribers)
