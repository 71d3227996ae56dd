"""Sealed columns: values stored as ``<key id>:<AES-GCM ciphertext>`` (kit/crypto.py), and
the re-encryption that key rotation runs over all of them.

Each domain registers the columns it seals, next to its models, with the
function that gives a row's associated data (``aad(tenant, table, column[, row id])``).
Rotation then needs no list of its own: ``reencrypt_batch`` opens every value
whose key id is not the active one and seals it again, in batches, so it is
idempotent (a sealed-with-the-active-key value is never selected again) and
resumable (an interrupted run leaves only whole rows done; the next run
picks up the rest). See docs/adr/0032-configuration-secrets-sealed-with-the-field-keys.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cxloop.kit.crypto import FieldKeyError, keyring


@dataclass(frozen=True)
class SealedColumn:
    model: type[Any]
    column: str
    where: Callable[[Any], str]

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.column}"

    @property
    def attribute(self) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(self.model, self.column)
        return attribute


_registry: dict[str, SealedColumn] = {}


def register(model: type[Any], column: str, where: Callable[[Any], str]) -> None:
    """Declare that ``model.column`` holds sealed values; ``where(row)`` is their associated data."""
    spec = SealedColumn(model, column, where)
    _registry[spec.name] = spec


def registered() -> tuple[SealedColumn, ...]:
    return tuple(_registry[name] for name in sorted(_registry))


def seal(value: str, where: str) -> str:
    return keyring().encrypt(value, where)


def unseal(stored: str, where: str) -> str:
    return keyring().decrypt(stored, where)


def seal_json(value: Any, where: str) -> str:
    return seal(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True), where)


def unseal_json(stored: str, where: str) -> Any:
    try:
        return json.loads(unseal(stored, where))
    except json.JSONDecodeError as exc:  # authenticated, so only a bug could write this
        raise FieldKeyError("a sealed value is not JSON") from exc


def _stale(spec: SealedColumn, active: str) -> Any:
    # The key id compared exactly, not with LIKE: SQLite's LIKE ignores case, so a value
    # under "K1" would pass for one under the active "k1" and never be re-sealed.
    column = spec.attribute
    prefix = f"{active}:"
    return column.is_not(None) & (func.substr(column, 1, len(prefix)) != prefix)


async def stale_counts(session: AsyncSession) -> dict[str, int]:
    """How many values each sealed column still has under an older key."""
    active = keyring().active_id
    counts: dict[str, int] = {}
    for spec in registered():
        query = select(func.count()).select_from(spec.model).where(_stale(spec, active))
        counts[spec.name] = int((await session.execute(query)).scalar_one())
    return counts


@dataclass(frozen=True)
class Rotated:
    """One re-encryption batch: how many stale values it read and how many it re-sealed."""

    examined: int
    changed: int
    limit: int

    @property
    def more(self) -> bool:
        # Decided by what was read, not by what was written: a value replaced meanwhile
        # counts as examined but not changed, and a full batch of those still means
        # more stale rows may follow.
        return self.examined >= self.limit


async def reencrypt_batch(session: AsyncSession, limit: int) -> Rotated:
    """Re-seal up to ``limit`` values with the active key.

    Each value is written with ``WHERE column = <the value read>``, so a value that
    an administrator replaced meanwhile (a new webhook secret, new channel settings)
    is left as they wrote it rather than overwritten with the old one. Never commits:
    the caller's transaction (a job or a CLI batch) makes the batch whole or nothing.
    """
    ring = keyring()
    active = ring.active_id
    examined = changed_count = 0
    for spec in registered():
        if examined >= limit:
            break
        mapper = spec.model.__mapper__
        primary = mapper.primary_key
        rows = (
            await session.execute(
                select(spec.model).where(_stale(spec, active)).order_by(*primary).limit(limit - examined)
            )
        ).scalars()
        for row in list(rows):
            examined += 1
            where = spec.where(row)
            old = getattr(row, spec.column)
            same_row = [key == getattr(row, mapper.get_property_by_column(key).key) for key in primary]
            changed = await session.execute(
                update(spec.model)
                .where(*same_row, spec.attribute == old)
                .values({spec.column: ring.encrypt(ring.decrypt(old, where), where)})
                .execution_options(synchronize_session=False)
            )
            changed_count += 1 if getattr(changed, "rowcount", 0) == 1 else 0
    return Rotated(examined=examined, changed=changed_count, limit=limit)
