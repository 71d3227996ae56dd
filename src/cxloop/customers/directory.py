"""The directory as callers see it: scope, unit codes, search and the shapes the API answers.

A contact belongs to its home unit's subtree for the scope funnel (ADR 0005):
readers see contacts of the units they reach, and a contact with no home
unit only tenant-wide. Out of scope answers exactly like missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.identities import BadIdentity, normalise
from cxloop.customers.models import Contact, ContactIdentity
from cxloop.customers.schemas import ContactIn, ContactOut, ContactSummary, IdentityOut
from cxloop.customers.segments import json_list_contains
from cxloop.customers.service import (
    blind_index,
    decrypt_field,
    identity_value,
    live_contact,
    load_identities,
    upsert,
)
from cxloop.identity import Perm, Principal, Unit, get_unit_by_code
from cxloop.kit.errors import Conflict, FieldError, ValidationFailed, invalid, not_found
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page


def readable(principal: Principal, perm: Perm = Perm.DATA_READ) -> Any:
    principal.require(perm)
    reach = principal.reach(perm)
    statement = (
        select(Contact, Unit.code)
        .outerjoin(Unit, Unit.id == Contact.unit_id)
        .where(
            Contact.tenant_id == principal.tenant_id,
            Contact.merged_into.is_(None),
            reach.unit_clause(Unit.id, Unit.path),
        )
    )
    return statement


async def visible_contact(
    session: AsyncSession, principal: Principal, contact_id: str, perm: Perm = Perm.DATA_READ
) -> tuple[Contact, str | None]:
    """The contact (following merges) if the caller's reach covers it; 404 otherwise."""
    principal.require(perm)
    live = await live_contact(session, principal.tenant_id, contact_id)
    if live is None:
        raise not_found("contact")
    row = (await session.execute(readable(principal, perm).where(Contact.id == live.id))).one_or_none()
    if row is None:
        raise not_found("contact")
    return row[0], row[1]


async def unit_for_write(session: AsyncSession, principal: Principal, code: str | None) -> str | None:
    """The id of a unit the caller may write for; callers without tenant-wide reach must name one."""
    reach = principal.reach(Perm.DATA_WRITE)
    if code is None:
        if reach.everywhere:
            return None
        raise invalid("unit_code", "is required: you may keep contacts for your units only")
    unit = await get_unit_by_code(session, principal.tenant_id, code)
    if unit is None or not reach.covers(unit.id, unit.path):
        raise invalid("unit_code", f"No unit {code!r}.", code="unknown_unit")
    return unit.id


async def upsert_for(session: AsyncSession, principal: Principal, body: ContactIn) -> tuple[str, bool]:
    principal.require(Perm.DATA_WRITE)
    unit_id = await unit_for_write(session, principal, body.unit_code)
    reach = principal.reach(Perm.DATA_WRITE)
    if not reach.everywhere:
        # A unit-bound caller may not change a contact that lives outside its units.
        for kind, value in body.identities.items():
            try:
                normal = normalise(kind, value)
            except BadIdentity:
                continue  # upsert_contact reports it
            held = (
                await session.execute(
                    select(Contact.unit_id, Unit.id, Unit.path)
                    .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
                    .outerjoin(Unit, Unit.id == Contact.unit_id)
                    .where(
                        ContactIdentity.tenant_id == principal.tenant_id,
                        ContactIdentity.kind == kind,
                        ContactIdentity.blind_index == blind_index(principal.tenant_id, kind, normal),
                    )
                )
            ).one_or_none()
            if held is not None and not reach.covers(held[1], held[2]):
                raise Conflict(
                    f"The {kind} belongs to a contact outside your units.", code="contact_out_of_scope"
                )
    return await upsert(
        session,
        principal.tenant_id,
        body.identities,
        attributes=body.attributes,
        language=body.language,
        timezone=body.timezone,
        unit_id=unit_id,
        source="api",
        verified=body.verified,
        name=body.name,
        first_name=body.first_name,
        tags=body.tags,
        merged_by=principal.label,
    )


def _identities_out(identities: list[ContactIdentity]) -> list[IdentityOut]:
    return [IdentityOut(kind=i.kind, value=identity_value(i), verified=i.verified) for i in identities]


async def contact_out(session: AsyncSession, contact: Contact, unit_code: str | None) -> ContactOut:
    identities = (await load_identities(session, [contact.id])).get(contact.id, [])
    tenant = contact.tenant_id
    return ContactOut(
        id=contact.id,
        unit_code=unit_code,
        language=contact.language,
        timezone=contact.timezone,
        name=decrypt_field(tenant, "contacts", "name", contact.name_enc),
        first_name=decrypt_field(tenant, "contacts", "first_name", contact.first_name_enc),
        attributes=dict(contact.attributes or {}),
        tags=list(contact.tags or []),
        identities=_identities_out(identities),
        source=contact.source,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )


@dataclass(frozen=True)
class ContactQuery:
    kind: str | None = None
    value: str | None = None
    tag: str | None = None
    unit_code: str | None = None
    attribute: str | None = None
    attribute_value: str | None = None


async def search(
    session: AsyncSession, principal: Principal, query: ContactQuery, page: PageRequest
) -> Page[ContactSummary]:
    statement = readable(principal)
    if (query.kind is None) != (query.value is None):
        raise invalid("kind", "kind and value go together", code="validation_failed")
    if query.kind is not None and query.value is not None:
        try:
            normal = normalise(query.kind, query.value)
        except BadIdentity as exc:
            raise ValidationFailed(
                "The identity is not valid.", errors=[FieldError("value", str(exc))]
            ) from exc
        index = blind_index(principal.tenant_id, query.kind, normal)
        holder = (
            select(ContactIdentity.contact_id)
            .where(
                ContactIdentity.tenant_id == principal.tenant_id,
                ContactIdentity.kind == query.kind,
                ContactIdentity.blind_index == index,
            )
            .scalar_subquery()
        )
        statement = statement.where(Contact.id == holder)
    if query.tag is not None:
        statement = statement.where(
            json_list_contains(Contact.tags, query.tag, session.get_bind().dialect.name)
        )
    if query.unit_code is not None:
        unit = await get_unit_by_code(session, principal.tenant_id, query.unit_code)
        reach = principal.reach(Perm.DATA_READ)
        if unit is None or not (reach.everywhere or reach.covers(unit.id, unit.path)):
            raise not_found("unit")
        statement = statement.where(Unit.path.startswith(unit.path))
    if query.attribute is not None:
        if query.attribute_value is None:
            statement = statement.where(Contact.attributes[query.attribute].as_string().is_not(None))
        else:
            statement = statement.where(
                Contact.attributes[query.attribute].as_string() == query.attribute_value
            )
    rows = list((await session.execute(apply_keyset(statement, Contact.id, "contacts", page))).all())
    result = make_page(rows, "contacts", page, lambda row: row[0].id)
    contacts = [row[0] for row in result.items]
    identities = await load_identities(session, [c.id for c in contacts])
    items: list[ContactSummary] = []
    for contact, unit_code in result.items:
        first: dict[str, str] = {}
        for identity in identities.get(contact.id, []):
            if identity.kind in ("email", "phone") and identity.kind not in first:
                first[identity.kind] = identity_value(identity)
        items.append(
            ContactSummary(
                id=contact.id,
                unit_code=unit_code,
                name=decrypt_field(contact.tenant_id, "contacts", "name", contact.name_enc),
                email=first.get("email"),
                phone=first.get("phone"),
                tags=list(contact.tags or []),
                created_at=contact.created_at,
            )
        )
    return Page(items=items, next_cursor=result.next_cursor)
