"""The links API: personal single-use links and signed anonymous links to a survey."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cxloop.collection.links import (
    AnonymousLinkIn,
    AnonymousLinkOut,
    LinksIn,
    LinksOut,
    anonymous_link,
    create_links,
)
from cxloop.identity import CurrentPrincipal
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["links"])


def _secret(request: Request) -> str:
    key: str | None = getattr(request.app.state, "secret_key", None)
    return key or request.app.state.settings.effective_secret_key()


@router.post(
    "/surveys/{survey_id}/links",
    status_code=201,
    response_model=LinksOut,
    summary="Make up to 1,000 personal single-use links",
    responses={200: {"model": LinksOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_links(
    request: Request, survey_id: str, body: LinksIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        made = await create_links(
            session,
            principal,
            survey_id,
            body.items,
            secret_key=_secret(request),
            base_url=str(request.base_url),
        )
        return LinksOut(items=made).model_dump(mode="json")

    payload = {"survey_id": survey_id, "body": body.model_dump(mode="json")}
    return await idempotent(request, session, principal.idempotency_owner, payload, create)


@router.post(
    "/surveys/{survey_id}/links/anonymous",
    status_code=201,
    response_model=AnonymousLinkOut,
    summary="Make an anonymous link whose unit, channel, touchpoint and embedded fields are signed",
    responses={200: {"model": AnonymousLinkOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_anonymous_link(
    request: Request, survey_id: str, body: AnonymousLinkIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        made = await anonymous_link(
            session, principal, survey_id, body, secret_key=_secret(request), base_url=str(request.base_url)
        )
        return made.model_dump(mode="json")

    payload = {"survey_id": survey_id, "body": body.model_dump(mode="json")}
    return await idempotent(request, session, principal.idempotency_owner, payload, create)
