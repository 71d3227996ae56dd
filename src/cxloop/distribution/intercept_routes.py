"""Website / in-app intercepts and the decision API, standing links and QR codes.

A website loads ``/static/intercept.js`` with ``data-key``; the script asks
``GET /api/v1/intercepts/{key}/decision?visitor=...&url=...`` whether to
show the survey; apps and mini-programs (WeChat, Alipay) ask the same API.
The answer applies the page pattern, the sampling (a stable hash of
visitor and intercept, so a visitor is in or out for good), and the
frequency: one prompt per visitor per ``once_per_days``, and, when the app
names the contact, the tenant's contact-frequency rules. The link it
returns is a signed anonymous link (channel ``web``, the intercept's unit
and touchpoint), so a response is attributed without a personal link.

QR codes and standing links carry the same signed parameters per unit and
touchpoint; the poster endpoints answer a print-sized PNG or PDF (segno).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update

from cxloop.collection import anonymous_query
from cxloop.distribution.directory import directory
from cxloop.distribution.models import Intercept, InterceptView
from cxloop.distribution.rules import frequency_block, frequency_rules
from cxloop.distribution.schemas import Id, Label, Name, Strict
from cxloop.distribution.service import now_utc, open_survey, require_tenant_config
from cxloop.identity import CurrentPrincipal, Perm, get_unit_by_code
from cxloop.kit.db import Database
from cxloop.kit.errors import invalid, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.ids import new_id
from cxloop.kit.settings import get_settings
from cxloop.kit.writelock import taking_turn

router = APIRouter(prefix="/api/v1", tags=["distribution"], route_class=TransactionalRoute)
# The decision API is called from other sites' pages: readable from any origin, without cookies.
CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}


class InterceptIn(Strict):
    name: Name
    survey_id: Id
    url_pattern: Annotated[str, Field(min_length=1, max_length=300)]
    delay_seconds: int = Field(default=0, ge=0, le=3600)
    sampling_pct: int = Field(default=100, ge=0, le=100)
    once_per_days: int = Field(default=30, ge=0, le=3650)
    unit_code: Label | None = None
    touchpoint: Label | None = None
    enabled: bool = True


class InterceptOut(BaseModel):
    id: str
    key: str
    name: str
    survey_id: str
    url_pattern: str
    delay_seconds: int
    sampling_pct: int
    once_per_days: int
    unit_code: str | None
    touchpoint: str | None
    enabled: bool
    created_at: datetime
    snippet: str


class InterceptList(BaseModel):
    items: list[InterceptOut]


class DecisionOut(BaseModel):
    show: bool
    reason: str
    url: str | None = None
    delay_seconds: int = 0


def _secret(request: Request) -> str:
    key: str | None = getattr(request.app.state, "secret_key", None)
    return key or request.app.state.settings.effective_secret_key()


def snippet(key: str) -> str:
    base = get_settings().public_url.rstrip("/")
    return f'<script src="{base}/static/intercept.js" data-key="{key}" async></script>'


def intercept_out(row: Intercept) -> InterceptOut:
    return InterceptOut(
        id=row.id,
        key=row.key,
        name=row.name,
        survey_id=row.survey_id,
        url_pattern=row.url_pattern,
        delay_seconds=row.delay_seconds,
        sampling_pct=row.sampling_pct,
        once_per_days=row.once_per_days,
        unit_code=row.unit_code,
        touchpoint=row.touchpoint,
        enabled=row.enabled,
        created_at=row.created_at,
        snippet=snippet(row.key),
    )


@router.post(
    "/intercepts", status_code=201, response_model=InterceptOut, summary="Create a web/in-app intercept"
)
async def post_intercept(body: InterceptIn, session: DbSession, principal: CurrentPrincipal) -> InterceptOut:
    require_tenant_config(principal)
    await open_survey(session, principal.tenant_id, body.survey_id)
    if (
        body.unit_code is not None
        and await get_unit_by_code(session, principal.tenant_id, body.unit_code) is None
    ):
        raise invalid("unit_code", f"No unit {body.unit_code!r}.")
    row = Intercept(
        id=new_id(),
        tenant_id=principal.tenant_id,
        key=secrets.token_urlsafe(12),
        name=body.name,
        survey_id=body.survey_id,
        url_pattern=body.url_pattern,
        delay_seconds=body.delay_seconds,
        sampling_pct=body.sampling_pct,
        once_per_days=body.once_per_days,
        unit_code=body.unit_code,
        touchpoint=body.touchpoint,
        enabled=body.enabled,
        created_at=now_utc(),
    )
    session.add(row)
    await session.flush()
    return intercept_out(row)


@router.get("/intercepts", response_model=InterceptList, summary="Intercepts")
async def list_intercepts(session: DbSession, principal: CurrentPrincipal) -> InterceptList:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(Intercept).where(Intercept.tenant_id == principal.tenant_id).order_by(Intercept.created_at)
    )
    return InterceptList(items=[intercept_out(row) for row in found.scalars()])


def url_matches(pattern: str, url: str) -> bool:
    """A glob (``*`` any run, ``?`` one character) over the full URL, or over
    its path when the pattern starts with ``/``."""
    if pattern.startswith("/"):
        path = url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        url = path.split("?", 1)[0].split("#", 1)[0]
    return fnmatch.fnmatchcase(url, pattern)


def sampled(key: str, visitor: str, pct: int) -> bool:
    bucket = int.from_bytes(hashlib.sha256(f"{key}:{visitor}".encode()).digest()[:4], "big") % 100
    return bucket < pct


def visitor_hash(key: str, visitor: str) -> str:
    return hashlib.sha256(f"cxloop.intercept:{key}:{visitor}".encode()).hexdigest()


def standing_params(unit_code: str | None, touchpoint: str | None, channel: str) -> dict[str, str]:
    params = {"channel": channel}
    if unit_code:
        params["unit"] = unit_code
    if touchpoint:
        params["touchpoint"] = touchpoint
    return params


def standing_url(secret: str, survey_id: str, params: dict[str, str]) -> str:
    query = anonymous_query(secret, survey_id, params)
    return get_settings().public_url.rstrip("/") + f"/s/{survey_id}" + (f"?{query}" if query else "")


@router.get(
    "/intercepts/{key}/decision",
    response_model=DecisionOut,
    summary="Whether to show the intercept's survey now, and its link (websites, apps, mini-programs)",
)
async def decision(
    request: Request,
    key: str,
    session: DbSession,
    visitor: Annotated[str, Query(min_length=1, max_length=128)],
    url: Annotated[str, Query(max_length=2000)] = "/",
    contact_id: Annotated[str | None, Query(max_length=26)] = None,
) -> JSONResponse:
    row = (await session.execute(select(Intercept).where(Intercept.key == key[:32]))).scalar_one_or_none()
    if row is None or not row.enabled:
        raise not_found("intercept")
    now = now_utc()

    def answer(show: bool, reason: str, link: str | None = None) -> JSONResponse:
        body = DecisionOut(show=show, reason=reason, url=link, delay_seconds=row.delay_seconds if show else 0)
        return JSONResponse(body.model_dump(), headers=CORS)

    if not url_matches(row.url_pattern, url):
        return answer(False, "page")
    if not sampled(row.key, visitor, row.sampling_pct):
        return answer(False, "sampling")
    hashed = visitor_hash(row.key, visitor)
    if row.once_per_days:
        seen = await session.execute(
            select(func.count()).where(
                InterceptView.intercept_id == row.id,
                InterceptView.visitor == hashed,
                InterceptView.shown_at >= now - timedelta(days=row.once_per_days),
            )
        )
        if seen.scalar_one():
            return answer(False, "frequency")
    if contact_id is not None:
        person = await directory().reach(session, row.tenant_id, contact_id)
        if person is not None:
            if not await directory().consent(session, row.tenant_id, contact_id, "web"):
                return answer(False, "consent")
            rules = await frequency_rules(session, row.tenant_id)
            blocked = await frequency_block(
                session, rules, person, row.tenant_id, row.survey_id, None, now, channel_rules=False
            )
            if blocked is not None:
                return answer(False, f"frequency:{blocked}")
    # A GET's session does not commit: the prompt is recorded in a short write of its own.
    db: Database = request.app.state.db
    async with taking_turn(db), db.session(write=True) as writer:
        writer.add(InterceptView(id=new_id(), intercept_id=row.id, visitor=hashed, shown_at=now))
        await writer.commit()
    params = standing_params(row.unit_code, row.touchpoint, "web")
    return answer(True, "ok", standing_url(_secret(request), row.survey_id, params))


@router.patch(
    "/intercepts/{intercept_id}", response_model=InterceptOut, summary="Turn an intercept on or off"
)
async def patch_intercept(
    intercept_id: str, body: dict[str, bool], session: DbSession, principal: CurrentPrincipal
) -> InterceptOut:
    require_tenant_config(principal)
    if set(body) != {"enabled"}:
        raise invalid("enabled", "is the only field that can change")
    row = await session.get(Intercept, intercept_id) if len(intercept_id) <= 26 else None
    if row is None or row.tenant_id != principal.tenant_id:
        raise not_found("intercept")
    await session.execute(update(Intercept).where(Intercept.id == row.id).values(enabled=body["enabled"]))
    row.enabled = body["enabled"]
    return intercept_out(row)


# --- standing links and QR posters -------------------------------------------------------


class StandingLinkOut(BaseModel):
    url: str
    unit_code: str | None
    touchpoint: str | None


async def _standing(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    survey_id: str,
    unit_code: str | None,
    touchpoint: str | None,
) -> str:
    principal.require(Perm.DATA_READ)
    await open_survey(session, principal.tenant_id, survey_id)
    if unit_code is not None:
        unit = await get_unit_by_code(session, principal.tenant_id, unit_code)
        if unit is None or not principal.reach(Perm.DATA_READ).covers(unit.id, unit.path):
            raise not_found("unit")
    elif not principal.reach(Perm.DATA_READ).everywhere:
        raise invalid("unit_code", "is required: you may make links for your units only")
    return standing_url(_secret(request), survey_id, standing_params(unit_code, touchpoint, "qr"))


Code = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get(
    "/surveys/{survey_id}/standing-link",
    response_model=StandingLinkOut,
    summary="A signed standing link for a unit and touchpoint (for QR codes, receipts, table cards)",
)
async def get_standing_link(
    request: Request,
    survey_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    unit_code: Code = None,
    touchpoint: Code = None,
) -> StandingLinkOut:
    url = await _standing(request, session, principal, survey_id, unit_code, touchpoint)
    return StandingLinkOut(url=url, unit_code=unit_code, touchpoint=touchpoint)


@router.get(
    "/surveys/{survey_id}/poster.{kind}",
    summary="A printable QR poster (PNG or PDF) of the standing link for a unit and touchpoint",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/pdf": {}, "image/svg+xml": {}}}},
)
async def get_poster(
    request: Request,
    survey_id: str,
    kind: Literal["png", "pdf", "svg"],
    session: DbSession,
    principal: CurrentPrincipal,
    unit_code: Code = None,
    touchpoint: Code = None,
    scale: Annotated[int, Query(ge=2, le=40)] = 16,
) -> Response:
    url = await _standing(request, session, principal, survey_id, unit_code, touchpoint)
    code = segno.make(url, error="q")
    out = io.BytesIO()
    # A wide quiet zone and a high scale: sharp when printed at A5/A4 size.
    code.save(out, kind=kind, scale=scale, border=4)
    media = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml"}[kind]
    name = f"poster-{unit_code or 'all'}-{touchpoint or 'any'}.{kind}"
    return Response(
        out.getvalue(), media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
