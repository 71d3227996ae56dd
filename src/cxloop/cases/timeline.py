"""Writing and reading a case's timeline (append-only ``CaseEntry`` rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case, CaseEntry
from cxloop.kit.ids import new_id

MAX_BODY = 10_000
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_id = ""


def ordered_id() -> str:
    """A new id greater than this process's previous one: entries written in
    the same millisecond (created, then assigned) keep their order."""
    global _last_id
    candidate = new_id()
    if candidate <= _last_id:
        value = 0
        for char in _last_id:
            value = value * 32 + _ALPHABET.index(char)
        value += 1
        chars = []
        for _ in range(len(_last_id)):
            chars.append(_ALPHABET[value & 31])
            value >>= 5
        candidate = "".join(reversed(chars))
    _last_id = candidate
    return candidate


def add(
    session: AsyncSession,
    case: Case,
    kind: str,
    *,
    at: datetime,
    user_id: str | None = None,
    label: str | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    body: str | None = None,
    internal: bool = False,
    details: dict[str, Any] | None = None,
) -> CaseEntry:
    entry = CaseEntry(
        id=ordered_id(),
        tenant_id=case.tenant_id,
        case_id=case.id,
        at=at,
        kind=kind,
        actor_user_id=user_id,
        actor_label=label,
        from_value=from_value,
        to_value=to_value,
        body=body,
        internal=internal,
        details=details or {},
    )
    session.add(entry)
    return entry


async def entries(session: AsyncSession, case_id: str) -> list[CaseEntry]:
    rows = await session.execute(
        select(CaseEntry).where(CaseEntry.case_id == case_id).order_by(CaseEntry.at, CaseEntry.id)
    )
    return list(rows.scalars().all())
