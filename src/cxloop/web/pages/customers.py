"""Pages of the customers domain: contacts (search, detail with timeline and
consent), and the public one-click unsubscribe page ``/u/{token}``.

Segments, journeys and the import are in customers_admin.py, included here.
The pages call the same services as the API, so scope is the same.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cxloop.customers import consent
from cxloop.customers.consent import CHANNELS, read_unsubscribe_token
from cxloop.customers.directory import ContactQuery, contact_out, search, visible_contact
from cxloop.customers.identities import BadIdentity, normalise
from cxloop.customers.service import live_contact
from cxloop.customers.timeline import timeline
from cxloop.identity import Perm
from cxloop.kit.errors import AppError, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import PageRequest
from cxloop.web.i18n import N_
from cxloop.web.pages.customers_admin import router as admin_router
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, secret_key, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
router.include_router(admin_router)

CHANNEL_LABELS = {
    "email": N_("Emails"),
    "sms": N_("SMS messages"),
    "wechat": N_("WeChat messages"),
    "wecom": N_("WeCom messages"),
    "web": N_("Website and app prompts"),
}
KIND_LABELS = {
    "email": N_("Email"),
    "phone": N_("Phone"),
    "wechat_openid": N_("WeChat OpenID"),
    "wechat_unionid": N_("WeChat UnionID"),
    "wecom_userid": N_("WeCom user"),
    "alipay_user_id": N_("Alipay user"),
    "member_id": N_("Member number"),
    "external_id": N_("External id"),
}


def _guess_query(text: str) -> ContactQuery:
    """A search box value as an identity: an email, a phone number, else a member number."""
    text = text.strip()
    if "@" in text:
        return ContactQuery(kind="email", value=text)
    try:
        normalise("phone", text)
    except BadIdentity:
        return ContactQuery(kind="member_id", value=text)
    return ContactQuery(kind="phone", value=text)


@router.get("/contacts")
async def contacts_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    params = request.query_params
    q = (params.get("q") or "").strip()[:320]
    tag = (params.get("tag") or "").strip()[:64] or None
    unit_code = (params.get("unit") or "").strip()[:64] or None
    cursor = params.get("cursor") or None
    query = _guess_query(q) if q else ContactQuery()
    query = ContactQuery(query.kind, query.value, tag, unit_code)
    error: str | None = None
    items: list[Any] = []
    next_cursor: str | None = None
    try:
        page = await search(session, principal, query, PageRequest(limit=50, cursor=cursor))
        items, next_cursor = list(page.items), page.next_cursor
    except AppError as exc:
        if exc.status >= 500:
            raise
        error = (
            N_("No unit with that code in your scope.")
            if exc.status == 404
            else N_("That search is not valid.")
        )
    context = {
        "q": q,
        "tag": tag or "",
        "unit": unit_code or "",
        "items": items,
        "next_cursor": next_cursor,
        "search_error": error,
        "can_import": principal.can(Perm.DATA_WRITE),
    }
    return render(request, "customers/list.html", context, principal=principal)


@router.get("/contacts/{contact_id}")
async def contact_page(
    contact_id: str, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    contact, unit_code = await visible_contact(session, principal, contact_id)
    if contact.id != contact_id:
        return see_other(f"/contacts/{contact.id}")
    out = await contact_out(session, contact, unit_code)
    records = await consent.ledger(session, principal.tenant_id, contact.id)
    entries = await timeline(session, principal.tenant_id, contact.id, 100)
    context = {
        "contact": out,
        "consent_state": consent.current_state(records),
        "consent_records": records,
        "timeline": entries,
        "channels": CHANNELS,
        "channel_labels": CHANNEL_LABELS,
        "kind_labels": KIND_LABELS,
        "can_write": principal.can(Perm.DATA_WRITE),
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "customers/detail.html", context, principal=principal)


@router.post("/contacts/{contact_id}/consent")
async def consent_form(
    contact_id: str, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return render(
            request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
        )
    contact, _ = await visible_contact(session, principal, contact_id, Perm.DATA_WRITE)
    channel = str(form.get("channel") or "")
    granted = str(form.get("granted") or "") == "yes"
    await consent.record_consent(
        session, principal.tenant_id, contact.id, channel, "survey", granted, source="staff"
    )
    return see_other(f"/contacts/{contact.id}?saved=1")


# --- unsubscribe (public, signed link) ---------------------------------------------------


async def _target(request: Request, session: DbSession, token: str) -> tuple[Any, str]:
    target = read_unsubscribe_token(secret_key(request), token)
    if target is None:
        raise not_found("link")
    contact = await live_contact(session, target.tenant_id, target.contact_id)
    if contact is None:
        raise not_found("link")
    return target, contact.id


@router.get("/u/{token}")
async def unsubscribe_page(token: str, request: Request, session: DbSession) -> Response:
    target, _ = await _target(request, session, token)
    context = {"token": token, "channel": CHANNEL_LABELS[target.channel], "done": False}
    return render(request, "customers/unsubscribe.html", context)


@router.post("/u/{token}")
async def unsubscribe(token: str, request: Request, session: DbSession) -> Response:
    """RFC 8058 one-click: mail clients POST ``List-Unsubscribe=One-Click`` with no session
    and no CSRF token; the signed token is the authority, and it only ever withdraws."""
    target, contact_id = await _target(request, session, token)
    allowed = await consent.consent_allows(
        session, target.tenant_id, contact_id, target.channel, target.purpose
    )
    if allowed:
        await consent.record_consent(
            session,
            target.tenant_id,
            contact_id,
            target.channel,
            target.purpose,
            False,
            source="unsubscribe_link",
        )
    context = {"token": token, "channel": CHANNEL_LABELS[target.channel], "done": True}
    return render(request, "customers/unsubscribe.html", context)
