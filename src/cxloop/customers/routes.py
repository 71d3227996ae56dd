"""The customers API: contacts, identities, attributes and consent.

Events, journeys and the timeline are in routes_events.py, segments in
routes_segments.py; both are included here, so the package exports one router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import JSONResponse

from cxloop.customers import consent, crypto
from cxloop.customers.attributes import define, list_definitions
from cxloop.customers.directory import ContactQuery, contact_out, search, upsert_for, visible_contact
from cxloop.customers.merge import merge_into
from cxloop.customers.models import ConsentPolicy
from cxloop.customers.routes_events import router as events_router
from cxloop.customers.routes_imports import router as imports_router
from cxloop.customers.routes_segments import router as segments_router
from cxloop.customers.schemas import (
    AttributeDefinitionIn,
    AttributeDefinitionOut,
    ConsentIn,
    ConsentOut,
    ConsentPolicyIn,
    ConsentPolicyOut,
    ConsentRecordOut,
    ContactIn,
    ContactOut,
    ContactPage,
    MergeIn,
)
from cxloop.identity import CurrentPrincipal, Perm
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest


@asynccontextmanager
async def _keys(app: FastAPI) -> AsyncIterator[None]:
    # The app's own settings (data dir, keys), not the environment's.
    crypto.configure(app.state.settings)
    yield


router = APIRouter(prefix="/api/v1", tags=["customers"], route_class=TransactionalRoute, lifespan=_keys)
# First, so that /contacts/export and /contacts/import are not taken for contact ids.
router.include_router(imports_router)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Text = Annotated[str | None, Query(min_length=1, max_length=320)]


@router.post(
    "/contacts",
    response_model=ContactOut,
    summary="Create or update a contact by any of its identities",
    responses={200: {"model": ContactOut, "description": "An existing contact was updated"}},
)
async def post_contact(body: ContactIn, session: DbSession, principal: CurrentPrincipal) -> JSONResponse:
    contact_id, created = await upsert_for(session, principal, body)
    contact, unit_code = await visible_contact(session, principal, contact_id, Perm.DATA_WRITE)
    out = await contact_out(session, contact, unit_code)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/contacts", response_model=ContactPage, summary="Search contacts in your scope")
async def get_contacts(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    value: Text = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    unit_code: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    attribute: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
    attribute_value: Annotated[str | None, Query(max_length=1000)] = None,
) -> ContactPage:
    query = ContactQuery(kind, value, tag, unit_code, attribute, attribute_value)
    page = await search(session, principal, query, PageRequest(limit=limit, cursor=cursor))
    return ContactPage(items=list(page.items), next_cursor=page.next_cursor)


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactOut,
    summary="One contact (merged ids lead to the survivor)",
)
async def get_contact(contact_id: str, session: DbSession, principal: CurrentPrincipal) -> ContactOut:
    contact, unit_code = await visible_contact(session, principal, contact_id)
    return await contact_out(session, contact, unit_code)


@router.post(
    "/contacts/{contact_id}/merge", response_model=ContactOut, summary="Fold another contact into this one"
)
async def post_merge(
    contact_id: str, body: MergeIn, session: DbSession, principal: CurrentPrincipal
) -> ContactOut:
    survivor, unit_code = await visible_contact(session, principal, contact_id, Perm.DATA_WRITE)
    merged, _ = await visible_contact(session, principal, body.merge_id, Perm.DATA_WRITE)
    await merge_into(
        session, principal.tenant_id, survivor.id, merged.id, reason="manual", by=principal.label
    )
    return await contact_out(session, survivor, unit_code)


def _consent_out(contact_id: str, records: list[Any]) -> ConsentOut:
    return ConsentOut(
        contact_id=contact_id,
        state=consent.current_state(records),
        records=[
            ConsentRecordOut(
                id=r.id,
                channel=r.channel,
                purpose=r.purpose,
                granted=r.granted,
                source=r.source,
                policy_version=r.policy_version,
                recorded_at=r.recorded_at,
            )
            for r in records
        ],
    )


@router.get(
    "/contacts/{contact_id}/consent", response_model=ConsentOut, summary="The consent ledger of a contact"
)
async def get_consent(contact_id: str, session: DbSession, principal: CurrentPrincipal) -> ConsentOut:
    contact, _ = await visible_contact(session, principal, contact_id)
    return _consent_out(contact.id, await consent.ledger(session, principal.tenant_id, contact.id))


@router.post(
    "/contacts/{contact_id}/consent",
    response_model=ConsentOut,
    status_code=201,
    summary="Append a consent record (granted or withdrawn)",
)
async def post_consent(
    contact_id: str, body: ConsentIn, session: DbSession, principal: CurrentPrincipal
) -> ConsentOut:
    contact, _ = await visible_contact(session, principal, contact_id, Perm.DATA_WRITE)
    await consent.record_consent(
        session,
        principal.tenant_id,
        contact.id,
        body.channel,
        body.purpose,
        body.granted,
        source=body.source,
        policy_version=body.policy_version,
    )
    return _consent_out(contact.id, await consent.ledger(session, principal.tenant_id, contact.id))


@router.get("/consent-policy", response_model=ConsentPolicyOut, summary="Channels that need an opt-in")
async def get_policy(session: DbSession, principal: CurrentPrincipal) -> ConsentPolicyOut:
    principal.require(Perm.DATA_READ)
    policy = await session.get(ConsentPolicy, principal.tenant_id)
    if policy is None:
        return ConsentPolicyOut(opt_in_channels=[], policy_version=None)
    return ConsentPolicyOut(opt_in_channels=policy.opt_in_channels, policy_version=policy.policy_version)


@router.put(
    "/consent-policy", response_model=ConsentPolicyOut, summary="Set the channels that need an opt-in"
)
async def put_policy(
    body: ConsentPolicyIn, session: DbSession, principal: CurrentPrincipal
) -> ConsentPolicyOut:
    principal.require(Perm.CONFIG_WRITE)
    policy = await consent.set_policy(session, principal.tenant_id, body.opt_in_channels, body.policy_version)
    return ConsentPolicyOut(opt_in_channels=policy.opt_in_channels, policy_version=policy.policy_version)


@router.get(
    "/contact-attributes", response_model=list[AttributeDefinitionOut], summary="Attribute definitions"
)
async def get_attributes(session: DbSession, principal: CurrentPrincipal) -> list[AttributeDefinitionOut]:
    principal.require(Perm.DATA_READ)
    rows = await list_definitions(session, principal.tenant_id)
    return [AttributeDefinitionOut(key=r.key, type=r.type, label=r.label) for r in rows]


@router.post(
    "/contact-attributes",
    response_model=AttributeDefinitionOut,
    status_code=201,
    summary="Define an attribute",
)
async def post_attribute(
    body: AttributeDefinitionIn, session: DbSession, principal: CurrentPrincipal
) -> AttributeDefinitionOut:
    principal.require(Perm.CONFIG_WRITE)
    row = await define(session, principal.tenant_id, body.key, body.type, dict(body.label))
    return AttributeDefinitionOut(key=row.key, type=row.type, label=row.label)


router.include_router(events_router)
router.include_router(segments_router)
