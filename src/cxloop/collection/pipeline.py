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


class Registry:
    """Subscribers by stable name, called in registration order (one per name)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._by_name: dict[str, Subscriber] = {}

    def subscribe(self, name: str) -> Callable[[Subscriber], Subscriber]:
        def register(subscriber: Subscriber) -> Subscriber:
            known = self._by_name.get(name)
            if known is not None and known is not subscriber:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._by_name[name] = subscriber
            return subscriber

        return register

    def unsubscribe(self, name: str) -> None:
        self._by_name.pop(name, None)

    def all(self) -> dict[str, Subscriber]:
        return dict(self._by_name)


_stored = Registry("subscriber")


def subscribe(name: str) -> Callable[[Subscriber], Subscriber]:
    """Register ``subscriber`` under a stable name (one per name)."""
    return _stored.subscribe(name)


def unsubscribe(name: str) -> None:
    _stored.unsubscribe(name)


def subscribers() -> dict[str, Subscriber]:
    return _stored.all()
