"""The collection API: submit responses (one or a batch) and read them back."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime

from cxloop.collection.schemas import BatchIn, BatchOut, ResponseIn, ResponseOut, ResponsePage
from cxloop.collection.service import ResponseFilter, get_response, list_responses, submit, submit_batch
from cxloop.identity import CurrentPrincipal
from cxloop.kit.http import DbSession, TransactionalRoute, get_session
from cxloop.kit.idempotency import HEADER, idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["responses"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]
When = Annotated[AwareDatetime | None, Query()]


@router.post(
    "/surveys/{survey_id}/responses",
    status_code=201,
    response_model=ResponseOut,
    summary="Submit one response to a published survey",
    responses={200: {"model": ResponseOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_response(
    request: Request, survey_id: str, body: ResponseIn, principal: CurrentPrincipal
) -> Response:
    if HEADER not in request.headers:
        # The session (on SQLite: the write turn) opens once the answers are checked.
        stored = await submit(functools.partial(get_session, request), principal, survey_id, body)
        # Serialised by pydantic in one step (the same JSON as model_dump + json.dumps, for less CPU).
        return Response(stored.model_dump_json(), status_code=201, media_type="application/json")
    session = await get_session(request)

    async def create() -> Any:
        return (await submit(session, principal, survey_id, body)).model_dump(mode="json")

    payload = {"survey_id": survey_id, "body": body.model_dump(mode="json")}
    return await idempotent(request, session, principal.idempotency_owner, payload, create)


@router.post(
    "/surveys/{survey_id}/responses/batch",
    response_model=BatchOut,
    summary="Submit up to 1,000 responses; valid ones are stored, invalid ones reported per item",
)
async def post_batch(
    request: Request, survey_id: str, body: BatchIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        results = await submit_batch(session, principal, survey_id, body.responses)
        return {"results": results}

    # Dumping a 1,000-item body for the fingerprint is only worth it with an Idempotency-Key.
    payload = (
        {"survey_id": survey_id, "body": body.model_dump(mode="json")} if HEADER in request.headers else None
    )
    return await idempotent(request, session, principal.idempotency_owner, payload, create, status_code=200)


@router.get("/surveys/{survey_id}/responses", response_model=ResponsePage, summary="Responses to a survey")
async def get_responses(
    survey_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    unit_code: Text = None,
    channel: Text = None,
    touchpoint: Text = None,
    submitted_from: When = None,
    submitted_to: When = None,
    status: Literal["complete", "partial", "all"] = "complete",
) -> ResponsePage:
    where = ResponseFilter(unit_code, channel, touchpoint, submitted_from, submitted_to, status)
    page = await list_responses(session, principal, survey_id, where, PageRequest(limit=limit, cursor=cursor))
    return ResponsePage(items=list(page.items), next_cursor=page.next_cursor)


@router.get("/responses/{response_id}", response_model=ResponseOut, summary="One response")
async def get_one_response(response_id: str, session: DbSession, principal: CurrentPrincipal) -> ResponseOut:
    return await get_response(session, principal, response_id)
