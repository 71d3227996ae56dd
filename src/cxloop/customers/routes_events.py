"""Events, event types, journeys and the contact timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from cxloop.customers.directory import visible_contact
from cxloop.customers.events import list_event_types, register_event_type
from cxloop.customers.ingest import ingest
from cxloop.customers.journeys import delete_journey, get_journey, list_journeys, save_journey
from cxloop.customers.models import Journey
from cxloop.customers.schemas import (
    MAX_BATCH,
    EventBatchIn,
    EventIn,
    EventTypeIn,
    EventTypeOut,
    JourneyIn,
    JourneyOut,
    TimelineEntryOut,
    TimelineOut,
)
from cxloop.customers.timeline import timeline
from cxloop.identity import CurrentPrincipal, Perm
from cxloop.kit.errors import invalid
from cxloop.kit.http import DbSession, TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["events and journeys"])


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its $defs put in place (the body is read by hand, so
    FastAPI does not add the models to the document's components)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_EVENT_SCHEMA: dict[str, Any] = {
    "oneOf": [_inline(EventIn.model_json_schema()), _inline(EventBatchIn.model_json_schema())]
}


@router.post(
    "/events",
    summary='Record one event, or a batch as {"events": [...]}; idempotent by id',
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _EVENT_SCHEMA}}}
    },
    responses={201: {"description": "Stored (or replayed) events"}},
)
async def post_events(request: Request, session: DbSession, principal: CurrentPrincipal) -> JSONResponse:
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise invalid("body", "The body is not JSON.", code="malformed_json") from exc
    if isinstance(body, dict) and "events" in body:
        if set(body) != {"events"}:
            raise invalid("body", "A batch has only the key events.")
        items = body["events"]
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise invalid("events", f"must be a list of 1 to {MAX_BATCH} events")
        results = await ingest(session, principal, items, batch=True)
        payload: Any = {"results": [r.model_dump(mode="json") for r in results]}
        return JSONResponse(payload, status_code=201)
    if not isinstance(body, dict):
        raise invalid("body", 'must be an event object or {"events": [...]}')
    results = await ingest(session, principal, [body], batch=False)
    return JSONResponse(results[0].model_dump(mode="json"), status_code=200 if results[0].replayed else 201)


@router.get("/event-types", response_model=list[EventTypeOut], summary="Registered event types")
async def get_event_types(session: DbSession, principal: CurrentPrincipal) -> list[EventTypeOut]:
    principal.require(Perm.DATA_READ)
    rows = await list_event_types(session, principal.tenant_id)
    return [EventTypeOut(name=r.name, description=r.description, created_at=r.created_at) for r in rows]


@router.post("/event-types", response_model=EventTypeOut, status_code=201, summary="Register an event type")
async def post_event_type(body: EventTypeIn, session: DbSession, principal: CurrentPrincipal) -> EventTypeOut:
    principal.require(Perm.CONFIG_WRITE)
    row = await register_event_type(session, principal.tenant_id, body.name, body.description)
    return EventTypeOut(name=row.name, description=row.description, created_at=row.created_at)


@router.get("/contacts/{contact_id}/timeline", response_model=TimelineOut, summary="A contact's timeline")
async def get_timeline(
    contact_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TimelineOut:
    contact, _ = await visible_contact(session, principal, contact_id)
    entries = await timeline(session, principal.tenant_id, contact.id, limit)
    return TimelineOut(
        contact_id=contact.id,
        items=[
            TimelineEntryOut(at=e.at, kind=e.kind, title=e.title, detail=e.detail, ref=e.ref) for e in entries
        ],
    )


def journey_out(journey: Journey) -> JourneyOut:
    return JourneyOut(
        id=journey.id,
        key=journey.key,
        name=journey.name,
        stages=journey.stages,
        created_at=journey.created_at,
        updated_at=journey.updated_at,
    )


@router.get("/journeys", response_model=list[JourneyOut], summary="Journeys")
async def get_journeys(session: DbSession, principal: CurrentPrincipal) -> list[JourneyOut]:
    principal.require(Perm.DATA_READ)
    return [journey_out(j) for j in await list_journeys(session, principal.tenant_id)]


@router.post("/journeys", response_model=JourneyOut, status_code=201, summary="Create a journey")
async def post_journey(body: JourneyIn, session: DbSession, principal: CurrentPrincipal) -> JourneyOut:
    principal.require(Perm.CONFIG_WRITE)
    return journey_out(await save_journey(session, principal.tenant_id, body))


@router.get("/journeys/{journey_id}", response_model=JourneyOut, summary="One journey")
async def get_one_journey(journey_id: str, session: DbSession, principal: CurrentPrincipal) -> JourneyOut:
    principal.require(Perm.DATA_READ)
    return journey_out(await get_journey(session, principal.tenant_id, journey_id))


@router.put("/journeys/{journey_id}", response_model=JourneyOut, summary="Replace a journey")
async def put_journey(
    journey_id: str, body: JourneyIn, session: DbSession, principal: CurrentPrincipal
) -> JourneyOut:
    principal.require(Perm.CONFIG_WRITE)
    journey = await get_journey(session, principal.tenant_id, journey_id)
    return journey_out(await save_journey(session, principal.tenant_id, body, journey))


@router.delete("/journeys/{journey_id}", status_code=204, summary="Delete a journey")
async def remove_journey(journey_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    await delete_journey(session, principal.tenant_id, journey_id)
    return Response(status_code=204)
