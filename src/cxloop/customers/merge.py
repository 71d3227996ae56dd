"""Folding one contact into another, keeping all of its history.

The merged record stays (``merged_into`` points at the survivor) so links,
invitations and cases that name the old id still resolve; its identities,
events, consent records and responses move to the survivor. Other domains
that keep contact ids may re-point theirs through ``subscribe_merges``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import (
    ConsentRecord,
    Contact,
    ContactEvent,
    ContactIdentity,
    ContactMerge,
    ContactResponse,
)
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, not_found
from cxloop.kit.ids import new_id

# handler(session, tenant_id, survivor_id, merged_id), inside the merge's transaction.
MergeHandler = Callable[[AsyncSession, str, str, str], Awaitable[None]]
_merge_handlers: dict[str, MergeHandler] = {}


def subscribe_merges(name: str) -> Callable[[MergeHandler], MergeHandler]:
    def register(handler: MergeHandler) -> MergeHandler:
        _merge_handlers[name] = handler
        return handler

    return register


async def merge_into(
    session: AsyncSession, tenant_id: str, survivor_id: str, merged_id: str, *, reason: str, by: str | None
) -> str:
    """Fold ``merged_id`` into ``survivor_id``; returns the survivor's id."""
    if survivor_id == merged_id:
        raise Conflict("A contact cannot be merged into itself.", code="merge_same_contact")
    survivor = await session.get(Contact, survivor_id)
    merged = await session.get(Contact, merged_id)
    for row in (survivor, merged):
        if row is None or row.tenant_id != tenant_id:
            raise not_found("contact")
    assert survivor is not None and merged is not None
    if survivor.merged_into is not None or merged.merged_into is not None:
        raise Conflict("That contact was already merged into another.", code="contact_already_merged")
    for model in (ContactIdentity, ContactEvent, ConsentRecord, ContactResponse):
        column = model.contact_id
        await session.execute(
            update(model).where(column == merged_id).values(contact_id=survivor_id),
            execution_options={"synchronize_session": "fetch"},
        )
    await session.execute(
        update(Contact).where(Contact.merged_into == merged_id).values(merged_into=survivor_id),
        execution_options={"synchronize_session": "fetch"},
    )
    survivor.attributes = {**(merged.attributes or {}), **(survivor.attributes or {})}
    survivor.tags = list(dict.fromkeys([*(survivor.tags or []), *(merged.tags or [])]))
    survivor.language = survivor.language or merged.language
    survivor.timezone = survivor.timezone or merged.timezone
    survivor.unit_id = survivor.unit_id or merged.unit_id
    survivor.name_enc = survivor.name_enc or merged.name_enc
    survivor.first_name_enc = survivor.first_name_enc or merged.first_name_enc
    survivor.created_at = min(survivor.created_at, merged.created_at)
    now = utc_now()
    survivor.updated_at = now
    merged.merged_into = survivor_id
    merged.updated_at = now
    session.add(
        ContactMerge(
            id=new_id(),
            tenant_id=tenant_id,
            survivor_id=survivor_id,
            merged_id=merged_id,
            reason=reason,
            merged_at=now,
            merged_by=by,
        )
    )
    await session.flush()
    for handler in list(_merge_handlers.values()):
        await handler(session, tenant_id, survivor_id, merged_id)
    return survivor_id
