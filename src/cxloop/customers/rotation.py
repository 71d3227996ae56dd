"""Key rotation: re-encrypt every sealed value still under an older key.

Put the new key first in ``CXLOOP_FIELD_KEYS`` (the old ones stay listed, so
everything still decrypts), then run ``cxloop contacts reencrypt`` or enqueue
the ``customers.reencrypt`` job; both work in batches so that a SQLite write
lock is never held for long. They cover every column registered with
``cxloop.kit.sealed``: the directory's personal fields (registered here) and
the configuration secrets other domains register beside their models
(webhook signing secrets, alert channel settings, distribution channel
secrets). Blind indexes do not change: they use their own key. When no row
names an old key any more, the old key can be removed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import Contact, ContactIdentity
from cxloop.kit import sealed
from cxloop.kit.crypto import aad
from cxloop.kit.jobs import enqueue, job

REENCRYPT = "customers.reencrypt"
BATCH = 1000

sealed.register(ContactIdentity, "value_enc", lambda row: aad(row.tenant_id, "contact_identities", "value"))
sealed.register(Contact, "name_enc", lambda row: aad(row.tenant_id, "contacts", "name"))
sealed.register(Contact, "first_name_enc", lambda row: aad(row.tenant_id, "contacts", "first_name"))


async def stale_counts(session: AsyncSession) -> dict[str, int]:
    """Values under an older key, per sealed column (``table.column``)."""
    return await sealed.stale_counts(session)


async def stale_count(session: AsyncSession) -> int:
    return sum((await stale_counts(session)).values())


async def reencrypt_batch(session: AsyncSession, limit: int = BATCH) -> sealed.Rotated:
    """Re-encrypt up to ``limit`` values with the active key (``.changed`` of them; ``.more``
    when the batch was full, so another may follow)."""
    return await sealed.reencrypt_batch(session, limit)


@job(REENCRYPT)
async def run_reencrypt(session: AsyncSession, payload: dict[str, Any]) -> None:
    # One batch per job run keeps each transaction short; the next batch is a new job.
    if (await reencrypt_batch(session)).more:
        enqueue(session, REENCRYPT, {})
