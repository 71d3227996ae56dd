"""Key rotation: re-encrypt personal fields still sealed with an older key.

Put the new key first in ``CXLOOP_FIELD_KEYS`` (the old ones stay listed, so
everything still decrypts), then run ``cxloop contacts reencrypt`` or enqueue
the ``customers.reencrypt`` job; both work in batches so that a SQLite write
lock is never held for long. Blind indexes do not change: they use their
own key. When no row names an old key any more, the old key can be removed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.crypto import aad, keyring
from cxloop.customers.models import Contact, ContactIdentity
from cxloop.kit.jobs import enqueue, job

REENCRYPT = "customers.reencrypt"
BATCH = 1000


def _stale(column: Any, active: str) -> Any:
    return column.is_not(None) & ~column.startswith(f"{active}:")


async def stale_count(session: AsyncSession) -> int:
    active = keyring().active_id
    identities = (
        select(func.count()).select_from(ContactIdentity).where(_stale(ContactIdentity.value_enc, active))
    )
    contacts = (
        select(func.count())
        .select_from(Contact)
        .where(or_(_stale(Contact.name_enc, active), _stale(Contact.first_name_enc, active)))
    )
    return int((await session.execute(identities)).scalar_one()) + int(
        (await session.execute(contacts)).scalar_one()
    )


async def reencrypt_batch(session: AsyncSession, limit: int = BATCH) -> int:
    """Re-encrypt up to ``limit`` rows with the active key; returns how many were changed."""
    ring = keyring()
    active = ring.active_id
    done = 0
    identities = (
        await session.execute(
            select(ContactIdentity).where(_stale(ContactIdentity.value_enc, active)).limit(limit)
        )
    ).scalars()
    for identity in identities:
        where = aad(identity.tenant_id, "contact_identities", "value")
        identity.value_enc = ring.encrypt(ring.decrypt(identity.value_enc, where), where)
        done += 1
    if done < limit:
        contacts = (
            await session.execute(
                select(Contact)
                .where(or_(_stale(Contact.name_enc, active), _stale(Contact.first_name_enc, active)))
                .limit(limit - done)
            )
        ).scalars()
        for contact in contacts:
            for column in ("name", "first_name"):
                stored = getattr(contact, f"{column}_enc")
                if stored is not None and not stored.startswith(f"{active}:"):
                    where = aad(contact.tenant_id, "contacts", column)
                    setattr(contact, f"{column}_enc", ring.encrypt(ring.decrypt(stored, where), where))
            done += 1
    await session.flush()
    return done


@job(REENCRYPT)
async def run_reencrypt(session: AsyncSession, payload: dict[str, Any]) -> None:
    # One batch per job run keeps each transaction short; the next batch is a new job.
    if await reencrypt_batch(session) >= BATCH:
        enqueue(session, REENCRYPT, {})
