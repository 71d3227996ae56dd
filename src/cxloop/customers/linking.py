"""Linking a batch of stored responses to their contacts, set-based.

The pipeline's ``customers.link_response`` subscriber gets every response of a
batch (one job transaction, up to 50) at once. What ``upsert_contact`` does for
one response costs several statements (the attribute definitions, the
identity lookup, the contact, the insert and a flush); here the batch costs
one query for the links already made, one for every identity the batch names,
one for the contacts those identities belong to, and one flush for everything
new, while each response is still resolved in order against what the responses
before it created (two responses of one new customer make one contact).

The rare cases keep the one-response path (``contact_for_ref``): a reference
naming a contact id, identities that name several contacts (which may merge
them), or identities that ``upsert_contact`` would refuse. Unlike an upsert
from the API, linking does not touch an existing contact's ``updated_at``
unless it gives it a new identity: a response is not a change of the record
(and every response of one customer rewriting one row made concurrent
pipeline jobs wait for each other).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response
from cxloop.customers.identities import KINDS, BadIdentity, normalise, normalise_all
from cxloop.customers.models import Contact, ContactIdentity, ContactResponse
from cxloop.customers.service import blind_index, live_contact, new_identity, upsert_contact
from cxloop.kit.clock import utc_now
from cxloop.kit.ids import new_id

_CHUNK = 200  # (kind, blind index) pairs per lookup


def ref_identities(ref: dict[str, Any]) -> dict[str, str]:
    """The identities a response's contact reference gives, typos left out (a
    respondent's typo must not stop the pipeline)."""
    identities: dict[str, str] = {}
    for kind in KINDS:
        value = ref.get(kind)
        if isinstance(value, str):
            try:
                normalise(kind, value)
            except BadIdentity:
                continue
            identities[kind] = value
    return identities


async def contact_for_ref(session: AsyncSession, tenant_id: str, ref: Any, unit_id: str | None) -> str | None:
    """One response's contact: the live contact it names, or the upsert of its identities."""
    if not isinstance(ref, dict):
        return None
    named = ref.get("contact_id")
    if isinstance(named, str):
        contact = await live_contact(session, tenant_id, named)
        if contact is not None:
            return contact.id
    identities = ref_identities(ref)
    if not identities:
        return None
    return await upsert_contact(session, tenant_id, identities, new_unit_id=unit_id, source="response")


Key = tuple[str, str]  # (kind, blind index)


class _Directory:
    """The identities a batch names, as stored plus what the batch added so far."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.held: dict[Key, ContactIdentity] = {}
        self.contacts: dict[str, Contact] = {}

    async def load(self, keys: set[Key]) -> None:
        """Read these identities and their contacts (two queries per chunk)."""
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            wanted = [
                (ContactIdentity.kind == kind) & (ContactIdentity.blind_index == index)
                for kind, index in chunk
            ]
            statement = select(ContactIdentity).where(
                ContactIdentity.tenant_id == self.tenant_id, or_(*wanted)
            )
            for identity in (await self.session.execute(statement)).scalars():
                self.held[(identity.kind, identity.blind_index)] = identity
        owners = sorted({identity.contact_id for identity in self.held.values()} - set(self.contacts))
        for start in range(0, len(owners), _CHUNK):
            found = select(Contact).where(Contact.id.in_(owners[start : start + _CHUNK]))
            for contact in (await self.session.execute(found)).scalars():
                self.contacts[contact.id] = contact

    def link(self, keys: dict[str, Key], cleaned: dict[str, str], unit_id: str | None) -> str | None:
        """The contact of one response's identities, creating it or adding identities as
        ``upsert_contact`` would; None when they name several contacts (the caller takes
        the one-response path, which may merge them)."""
        matches = {kind: self.held[key] for kind, key in keys.items() if key in self.held}
        owners = {identity.contact_id for identity in matches.values()}
        if len(owners) > 1:
            return None
        now = utc_now()
        contact = self.contacts.get(next(iter(owners))) if owners else None
        if contact is None:
            contact = Contact(
                id=new_id(),
                tenant_id=self.tenant_id,
                unit_id=unit_id,
                language=None,
                timezone=None,
                attributes={},
                tags=[],
                source="response",
                created_at=now,
                updated_at=now,
            )
            self.session.add(contact)
            self.contacts[contact.id] = contact
        added = False
        for kind, normal in cleaned.items():
            if keys[kind] not in self.held:
                identity = new_identity(self.tenant_id, contact.id, kind, normal, False)
                self.session.add(identity)
                self.held[keys[kind]] = identity
                added = True
        if added:
            contact.updated_at = now
        return contact.id


async def link_batch(session: AsyncSession, response_ids: list[str]) -> None:
    """Link every stored response of the batch to its contact (see the module's doc)."""
    ids = list(dict.fromkeys(response_ids))
    linked: set[str] = set()
    for start in range(0, len(ids), 500):
        statement = select(ContactResponse.response_id).where(
            ContactResponse.response_id.in_(ids[start : start + 500])
        )
        linked.update((await session.execute(statement)).scalars())  # ran already (a retried job)
    by_tenant: dict[str, list[Response]] = {}
    for response_id in ids:
        if response_id in linked:
            continue
        response = await session.get(Response, response_id)  # preloaded by the pipeline
        if response is not None and response.status == "complete" and isinstance(response.contact_ref, dict):
            by_tenant.setdefault(response.tenant_id, []).append(response)
    for tenant_id, responses in by_tenant.items():
        await _link_tenant(session, tenant_id, responses)
    await session.flush()


async def _link_tenant(session: AsyncSession, tenant_id: str, responses: list[Response]) -> None:
    planned: list[tuple[Response, dict[str, str] | None, dict[str, Key]]] = []
    for response in responses:
        ref = response.contact_ref
        if isinstance(ref.get("contact_id"), str):
            planned.append((response, None, {}))  # the one-response path follows merges
            continue
        identities = ref_identities(ref)
        if not identities:
            continue
        cleaned, errors = normalise_all(identities)
        if errors:
            planned.append((response, None, {}))  # upsert_contact says why
            continue
        keys = {kind: (kind, blind_index(tenant_id, kind, normal)) for kind, normal in cleaned.items()}
        planned.append((response, cleaned, keys))
    directory = _Directory(session, tenant_id)
    await directory.load({key for _, _, keys in planned for key in keys.values()})
    for response, given, their_keys in planned:
        contact_id = directory.link(their_keys, given, response.unit_id) if given is not None else None
        if contact_id is None:
            contact_id = await contact_for_ref(session, tenant_id, response.contact_ref, response.unit_id)
            # The upsert may have merged contacts or moved identities: read them again.
            directory.held.clear()
            await directory.load({key for _, _, k in planned for key in k.values()})
        if contact_id is None:
            continue
        session.add(
            ContactResponse(
                response_id=response.id,
                tenant_id=tenant_id,
                contact_id=contact_id,
                survey_id=response.survey_id,
                submitted_at=response.submitted_at,
            )
        )
