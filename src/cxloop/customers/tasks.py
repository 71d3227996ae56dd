"""Job handlers of the customers domain (imported by cxloop.worker.jobs).

- ``customers.link_response``: a collection pipeline subscriber that links
  each stored response to the contact its ``contact_ref`` names (creating
  the contact from the identities it gave), so segments and the timeline see
  response history; set-based over the pipeline's batch (``linking``).
- ``customers.events_stored``: hands stored events to the event subscribers.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import subscribe_batch
from cxloop.customers import rotation  # noqa: F401  (registers customers.reencrypt)
from cxloop.customers.events import EVENTS_STORED, event_payload, event_subscribers
from cxloop.customers.linking import link_batch
from cxloop.customers.models import ContactEvent, ContactResponse
from cxloop.identity import Unit
from cxloop.kit.jobs import job

log = logging.getLogger("cxloop.customers")


@subscribe_batch("customers.link_response")
async def link_responses(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
    # Set-based over the pipeline's batch (customers/linking.py).
    await link_batch(session, [response_id for response_id, _payload in items])


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
