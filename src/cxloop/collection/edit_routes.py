"""The audited-edit API: change a stored response's answers, list its revisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cxloop.collection.edit_schemas import EditIn, EditOut, RevisionOut, RevisionPage
from cxloop.collection.edits import edit_response, list_revisions
from cxloop.identity import CurrentPrincipal
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["responses"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]


@router.patch(
    "/responses/{response_id}",
    response_model=EditOut,
    summary="Edit a complete response's answers, with a reason; the change is audited and revisioned",
)
async def patch_response(
    request: Request, response_id: str, body: EditIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def change() -> Any:
        edited = await edit_response(session, principal, response_id, body.answers, body.reason)
        revision = None if edited.revision is None else RevisionOut.of(edited.revision)
        return EditOut(response=edited.response, revision=revision).model_dump(mode="json")

    payload = {"response_id": response_id, "body": body.model_dump(mode="json")}
    return await idempotent(request, session, principal.idempotency_owner, payload, change, status_code=200)


@router.get(
    "/responses/{response_id}/revisions",
    response_model=RevisionPage,
    summary="The audited edits of a response, oldest first",
)
async def get_revisions(
    response_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> RevisionPage:
    page = await list_revisions(session, principal, response_id, PageRequest(limit=limit, cursor=cursor))
    return RevisionPage(items=[RevisionOut.of(r) for r in page.items], next_cursor=page.next_cursor)
