"""Idempotency-Key for creating POSTs: the same key and body answer the first
result (200) instead of creating again; the same key with another body is
refused. The key row is inserted *before* the work, so a concurrent duplicate
waits on the unique index and then reads the stored answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.clock import utc_now
from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime
from cxloop.kit.errors import Conflict, invalid
from cxloop.kit.ids import new_id

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("owner", "key"),)


def _fingerprint(request: Request, body: Any) -> str:
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def idempotent(
    request: Request,
    session: AsyncSession,
    owner: str,
    body: Any,
    create: Callable[[], Awaitable[Any]],
    *,
    status_code: int = 201,
    keep: Callable[[Any], Any] | None = None,
) -> JSONResponse:
    """Run ``create`` once per (owner, key); ``create`` returns a JSON-able body.

    ``keep`` picks what is stored for replays, so that a secret shown once
    (a new token) is not kept in clear in this table.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return JSONResponse(await create(), status_code=status_code)
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise invalid("Idempotency-Key", "The key must be 1 to 255 printable characters.")
    fingerprint = _fingerprint(request, body)
    row = IdempotencyKey(id=new_id(), owner=owner, key=key, request_hash=fingerprint, created_at=utc_now())
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return await _replay(session, owner, key, fingerprint)
    result = await create()
    row.status_code, row.response = status_code, keep(result) if keep else result
    await session.flush()
    return JSONResponse(result, status_code=status_code)


async def _replay(session: AsyncSession, owner: str, key: str, fingerprint: str) -> JSONResponse:
    stored = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        )
    ).scalar_one()
    if stored.request_hash != fingerprint:
        raise invalid(
            "Idempotency-Key", "This key was used with a different request.", code="idempotency_key_reused"
        )
    if stored.status_code is None:
        raise Conflict("A request with this key is still in progress.", code="idempotency_key_in_progress")
    return JSONResponse(stored.response, status_code=200)


async def purge_expired(session: AsyncSession) -> None:
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utc_now() - KEEP_FOR))
