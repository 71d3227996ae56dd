"""Cursor pagination over a unique, ordered key (our ids sort by time).

Cursors are opaque to clients; a tampered or foreign cursor answers 422
instead of a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from cxloop.kit.errors import invalid

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(kind: str, last_key: str) -> str:
    raw = json.dumps({"k": kind, "after": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("cursor", "The cursor is not valid.", code="invalid_cursor") from exc
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("after"), str):
        raise invalid("cursor", "The cursor is not valid for this list.", code="invalid_cursor")
    after: str = data["after"]
    # Keys are ids; anything else (NUL, which PostgreSQL refuses, or a novel) is forged.
    if len(after) > 64 or not after.isprintable():
        raise invalid("cursor", "The cursor is not valid for this list.", code="invalid_cursor")
    return after


def apply_keyset(
    statement: Select[Any],
    key: InstrumentedAttribute[Any],
    kind: str,
    page: PageRequest,
    *,
    descending: bool = False,
) -> Select[Any]:
    if page.cursor:
        after = decode_cursor(kind, page.cursor)
        statement = statement.where(key < after if descending else key > after)
    return statement.order_by(key.desc() if descending else key).limit(page.limit + 1)


def make_page(rows: Sequence[T], kind: str, page: PageRequest, key_of: Any) -> Page[T]:
    if len(rows) > page.limit:
        kept = rows[: page.limit]
        return Page(items=kept, next_cursor=encode_cursor(kind, str(key_of(kept[-1]))))
    return Page(items=rows, next_cursor=None)
