"""The contact directory: upsert by any identity, lookups, reach. Never commits.

Identities are unique per tenant and kind (by blind index). An upsert whose
identities name several contacts merges them when each is named by a
*verified* identity (stored as verified, or asserted verified by this
upsert); otherwise the record named by the strongest identity is updated and
the identities that belong to other records are left where they are (see
docs/adr/0015-identity-resolution-and-merge.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.attributes import check_attributes, definitions
from cxloop.customers.crypto import aad, keyring
from cxloop.customers.identities import KINDS, PRIORITY, index_form, normalise_all
from cxloop.customers.merge import merge_into
from cxloop.customers.models import Contact, ContactIdentity
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.kit.ids import new_id

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TAG = re.compile(r"^[^\x00-\x1f,]{1,64}$")
MAX_TAGS = 50
MAX_NAME = 200


@dataclass(frozen=True)
class Reach:
    """What a channel needs to reach a contact (decrypted; never logged or stored elsewhere)."""

    contact_id: str
    language: str | None
    timezone: str | None
    unit_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    first_name: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    wecom_userid: str | None = None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def check_profile(
    language: str | None, timezone: str | None, tags: list[str] | None, names: dict[str, str | None]
) -> list[FieldError]:
    errors: list[FieldError] = []
    if language is not None and (len(language) > 35 or not LANGUAGE.match(language)):
        errors.append(FieldError("language", "must be a language tag such as zh-CN or en"))
    if timezone is not None and timezone not in _zones():
        errors.append(FieldError("timezone", "must be an IANA time zone such as Asia/Shanghai"))
    if tags is not None:
        if len(tags) > MAX_TAGS:
            errors.append(FieldError("tags", f"at most {MAX_TAGS} tags"))
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not TAG.match(tag):
                errors.append(FieldError(f"tags[{index}]", "a tag has 1 to 64 characters, no commas"))
    for key, value in names.items():
        if value is not None and (len(value) > MAX_NAME or not value.isprintable()):
            errors.append(FieldError(key, f"at most {MAX_NAME} printable characters"))
    return errors


def encrypt_field(tenant_id: str, table: str, column: str, value: str | None) -> str | None:
    return None if value is None else keyring().encrypt(value, aad(tenant_id, table, column))


def decrypt_field(tenant_id: str, table: str, column: str, value: str | None) -> str | None:
    return None if value is None else keyring().decrypt(value, aad(tenant_id, table, column))


def blind_index(tenant_id: str, kind: str, normal: str) -> str:
    return keyring().blind(tenant_id, kind, index_form(kind, normal))


def new_identity(tenant_id: str, contact_id: str, kind: str, normal: str, verified: bool) -> ContactIdentity:
    return ContactIdentity(
        id=new_id(),
        tenant_id=tenant_id,
        contact_id=contact_id,
        kind=kind,
        blind_index=blind_index(tenant_id, kind, normal),
        value_enc=keyring().encrypt(normal, aad(tenant_id, "contact_identities", "value")),
        verified=verified,
        created_at=utc_now(),
    )


def identity_value(identity: ContactIdentity) -> str:
    return keyring().decrypt(identity.value_enc, aad(identity.tenant_id, "contact_identities", "value"))


async def find_contact(session: AsyncSession, tenant_id: str, kind: str, value: str) -> str | None:
    """The contact holding this identity (blind-index lookup); None for none or an invalid value."""
    cleaned, errors = normalise_all({kind: value})
    if errors:
        return None
    statement = select(ContactIdentity.contact_id).where(
        ContactIdentity.tenant_id == tenant_id,
        ContactIdentity.kind == kind,
        ContactIdentity.blind_index == blind_index(tenant_id, kind, cleaned[kind]),
    )
    found: str | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def _matches(
    session: AsyncSession, tenant_id: str, cleaned: dict[str, str]
) -> dict[str, ContactIdentity]:
    if not cleaned:
        return {}
    # (kind, blind index) pairs, so that the unique index answers each one.
    wanted = [
        (ContactIdentity.kind == kind) & (ContactIdentity.blind_index == blind_index(tenant_id, kind, normal))
        for kind, normal in cleaned.items()
    ]
    statement = select(ContactIdentity).where(ContactIdentity.tenant_id == tenant_id, or_(*wanted))
    return {identity.kind: identity for identity in (await session.execute(statement)).scalars()}


def _pick(matches: dict[str, ContactIdentity]) -> str:
    for kind in (*PRIORITY, *KINDS):
        if kind in matches:
            return matches[kind].contact_id
    raise AssertionError("no match to pick")


async def upsert_contact(
    session: AsyncSession,
    tenant_id: str,
    identities: dict[str, str],
    *,
    attributes: dict[str, Any] | None = None,
    language: str | None = None,
    timezone: str | None = None,
    unit_id: str | None = None,
    source: str,
    verified: Collection[str] = (),
    new_unit_id: str | None = None,
    name: str | None = None,
    first_name: str | None = None,
    tags: list[str] | None = None,
) -> str:
    """Create or update the contact these identities name; returns its id (see ``upsert``)."""
    contact_id, _created = await upsert(
        session,
        tenant_id,
        identities,
        attributes=attributes,
        language=language,
        timezone=timezone,
        unit_id=unit_id,
        source=source,
        verified=verified,
        new_unit_id=new_unit_id,
        name=name,
        first_name=first_name,
        tags=tags,
    )
    return contact_id


async def upsert(
    session: AsyncSession,
    tenant_id: str,
    identities: dict[str, str],
    *,
    attributes: dict[str, Any] | None = None,
    language: str | None = None,
    timezone: str | None = None,
    unit_id: str | None = None,
    source: str,
    verified: Collection[str] = (),
    new_unit_id: str | None = None,
    name: str | None = None,
    first_name: str | None = None,
    tags: list[str] | None = None,
    merged_by: str | None = None,
) -> tuple[str, bool]:
    """Create or update the contact these identities name: (its id, created?).

    Given attributes are merged into the stored ones (a None value removes a
    key); given tags replace the stored ones. ``new_unit_id`` is the home unit
    of a contact this call creates (an event's unit), ``unit_id`` sets it
    always. Raises ValidationFailed (422)
    with every fault, before writing anything.
    """
    cleaned, errors = normalise_all(identities)
    if not identities:
        errors.append(FieldError("identities", "at least one identity is needed"))
    for kind in verified:
        if kind not in identities:
            errors.append(FieldError("verified", f"{kind!r} is not among the identities"))
    attrs, attr_errors = check_attributes(attributes or {}, await definitions(session, tenant_id))
    errors += attr_errors
    errors += check_profile(language, timezone, tags, {"name": name, "first_name": first_name})
    if errors:
        raise ValidationFailed("The contact is not valid; see errors.", errors=errors)
    now = utc_now()
    matches = await _matches(session, tenant_id, cleaned)
    contact: Contact | None = None
    created = False
    if matches:
        owners = {identity.contact_id for identity in matches.values()}
        target_id = _pick(matches)
        if len(owners) > 1:
            # Every other record must be named by a verified identity to be folded in.
            trusted = {
                identity.contact_id
                for kind, identity in matches.items()
                if identity.verified or kind in verified
            }
            for other in sorted(owners - {target_id}):
                if other in trusted and target_id in trusted:
                    target_id = await merge_into(
                        session, tenant_id, target_id, other, reason="identity", by=merged_by or source
                    )
        contact = await session.get(Contact, target_id)
    if contact is None:
        contact = Contact(
            id=new_id(),
            tenant_id=tenant_id,
            unit_id=unit_id or new_unit_id,
            language=language,
            timezone=timezone,
            attributes={},
            tags=[],
            source=source,
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        created = True
    else:
        if unit_id is not None:
            contact.unit_id = unit_id
        if language is not None:
            contact.language = language
        if timezone is not None:
            contact.timezone = timezone
        contact.updated_at = now
    if attrs:
        merged = dict(contact.attributes or {})
        for key, value in attrs.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.attributes = merged
    if tags is not None:
        contact.tags = list(dict.fromkeys(tags))
    if name is not None:
        contact.name_enc = encrypt_field(tenant_id, "contacts", "name", name)
    if first_name is not None:
        contact.first_name_enc = encrypt_field(tenant_id, "contacts", "first_name", first_name)
    for kind, normal in cleaned.items():
        held = matches.get(kind)
        if held is None:
            session.add(new_identity(tenant_id, contact.id, kind, normal, kind in verified))
        elif held.contact_id == contact.id and kind in verified and not held.verified:
            held.verified = True
    await session.flush()
    return contact.id, created


async def load_identities(session: AsyncSession, contact_ids: list[str]) -> dict[str, list[ContactIdentity]]:
    if not contact_ids:
        return {}
    statement = (
        select(ContactIdentity)
        .where(ContactIdentity.contact_id.in_(contact_ids))
        .order_by(ContactIdentity.verified.desc(), ContactIdentity.id)
    )
    grouped: dict[str, list[ContactIdentity]] = {}
    for identity in (await session.execute(statement)).scalars():
        grouped.setdefault(identity.contact_id, []).append(identity)
    return grouped


async def live_contact(session: AsyncSession, tenant_id: str, contact_id: str) -> Contact | None:
    """The contact by id, following merges to the surviving record."""
    if len(contact_id) > 26:
        return None
    for _ in range(10):
        contact = await session.get(Contact, contact_id)
        if contact is None or contact.tenant_id != tenant_id:
            return None
        if contact.merged_into is None:
            return contact
        contact_id = contact.merged_into
    return None


# The identity kinds a Reach carries: only these are decrypted for it.
REACH_KINDS = ("email", "phone", "wechat_openid", "wecom_userid")


def _reach(contact: Contact, identities: list[ContactIdentity]) -> Reach:
    """A contact's Reach from its identities (verified first): the first of
    each kind it names, decrypted; the others are not opened."""
    first: dict[str, str] = {}
    for identity in identities:
        if identity.kind in REACH_KINDS and identity.kind not in first:
            first[identity.kind] = identity_value(identity)
    tenant_id = contact.tenant_id
    return Reach(
        contact_id=contact.id,
        language=contact.language,
        timezone=contact.timezone,
        unit_id=contact.unit_id,
        attributes=dict(contact.attributes or {}),
        tags=tuple(contact.tags or ()),
        first_name=decrypt_field(tenant_id, "contacts", "first_name", contact.first_name_enc),
        name=decrypt_field(tenant_id, "contacts", "name", contact.name_enc),
        email=first.get("email"),
        phone=first.get("phone"),
        wechat_openid=first.get("wechat_openid"),
        wecom_userid=first.get("wecom_userid"),
    )


async def contact_reach(session: AsyncSession, tenant_id: str, contact_id: str) -> Reach | None:
    contact = await live_contact(session, tenant_id, contact_id)
    if contact is None:
        return None
    return _reach(contact, (await load_identities(session, [contact.id])).get(contact.id, []))


async def live_contacts(
    session: AsyncSession, tenant_id: str, contact_ids: Collection[str]
) -> dict[str, Contact]:
    """``live_contact`` for many ids: {asked id: surviving contact}, one query
    per merge hop (one in all when none was merged); missing ids are left out."""
    current = {asked: asked for asked in contact_ids if len(asked) <= 26}
    live: dict[str, Contact] = {}
    for _ in range(10):
        if not current:
            break
        holders = set(current.values())
        statement = select(Contact).where(Contact.tenant_id == tenant_id, Contact.id.in_(holders))
        found = {contact.id: contact for contact in (await session.execute(statement)).scalars()}
        following: dict[str, str] = {}
        for asked, at in current.items():
            contact = found.get(at)
            if contact is None:
                continue
            if contact.merged_into is None:
                live[asked] = contact
            else:
                following[asked] = contact.merged_into
        current = following
    return live


async def contacts_reach(
    session: AsyncSession, tenant_id: str, contact_ids: Collection[str]
) -> dict[str, Reach]:
    """``contact_reach`` for a batch (a delivery job's recipients) in two
    queries, the contacts and their identities: {asked id: Reach of the
    surviving contact}; an id with no live contact in the tenant is absent."""
    live = await live_contacts(session, tenant_id, list(dict.fromkeys(contact_ids)))
    identities = await load_identities(session, sorted({contact.id for contact in live.values()}))
    reaches = {contact.id: _reach(contact, identities.get(contact.id, [])) for contact in live.values()}
    return {asked: reaches[contact.id] for asked, contact in live.items()}
