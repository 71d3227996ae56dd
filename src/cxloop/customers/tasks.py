"""Job handlers of the customers domain (imported by cxloop.worker.jobs).

- ``customers.link_response``: a collection pipeline subscriber that links
  each stored response to the contact its ``contact_ref`` names (creating
  the contact from the identities it gave), so segments and the timeline see
  response history.
- ``customers.events_stored``: hands stored events to the event subscribers.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response, subscribe
from cxloop.customers import rotation  # noqa: F401  (registers customers.reencrypt)
from cxloop.customers.events import EVENTS_STORED, event_payload, event_subscribers
from cxloop.customers.identities import KINDS, BadIdentity, normalise
from cxloop.customers.models import ContactEvent, ContactResponse
from cxloop.customers.service import live_contact, upsert_contact
from cxloop.identity import Unit
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.customers")


async def contact_for_ref(session: AsyncSession, tenant_id: str, ref: Any, unit_id: str | None) -> str | None:
    if not isinstance(ref, dict):
        return None
    named = ref.get("contact_id")
    if isinstance(named, str):
        contact = await live_contact(session, tenant_id, named)
        if contact is not None:
            return contact.id
    identities: dict[str, str] = {}
    for kind in KINDS:
        value = ref.get(kind)
        if isinstance(value, str):
            try:
                normalise(kind, value)
            except BadIdentity:
                continue  # a respondent's typo must not stop the pipeline
            identities[kind] = value
    if not identities:
        return None
    return await upsert_contact(session, tenant_id, identities, new_unit_id=unit_id, source="response")


@subscribe("customers.link_response")
async def link_response(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    if await session.get(ContactResponse, response_id) is not None:
        return  # ran already (a retried job)
    response = await session.get(Response, response_id)
    if response is None or response.status != "complete":
        return
    contact_id = await contact_for_ref(session, response.tenant_id, response.contact_ref, response.unit_id)
    if contact_id is None:
        return
    session.add(
        ContactResponse(
            response_id=response.id,
            tenant_id=response.tenant_id,
            contact_id=contact_id,
            survey_id=response.survey_id,
            submitted_at=response.submitted_at,
        )
    )
    await session.flush()


async def contact_ids_for_responses(
    session: AsyncSession, tenant_id: str, response_ids: list[str]
) -> dict[str, str]:
    """{response_id: contact_id} for the responses linked to a contact."""
    found: dict[str, str] = {}
    for start in range(0, len(response_ids), 500):
        chunk = response_ids[start : start + 500]
        statement = select(ContactResponse.response_id, ContactResponse.contact_id).where(
            ContactResponse.tenant_id == tenant_id, ContactResponse.response_id.in_(chunk)
        )
        found.update({response: contact for response, contact in (await session.execute(statement)).all()})
    return found


@job(EVENTS_STORED)
async def run_events_stored(session: AsyncSession, payload: dict[str, Any]) -> None:
    ids = [str(event_id) for event_id in payload.get("event_ids", [])]
    if not ids:
        return
    statement = (
        select(ContactEvent, Unit.code)
        .outerjoin(Unit, Unit.id == ContactEvent.unit_id)
        .where(ContactEvent.id.in_(ids))
        .order_by(ContactEvent.id)
    )
    rows = list((await session.execute(statement)).all())
    registered = event_subscribers()
    for event, unit_code in rows:
        each = event_payload(event, unit_code)
        for handler in registered.values():
            await handler(session, event.id, each)
    log.info("%d event(s) handed to %d subscriber(s)", len(rows), len(registered))
