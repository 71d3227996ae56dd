"""The distribution API: invitations, channel settings, sending policy,
frequency rules, provider callbacks, and the short links people click.

The router has no prefix: the API lives under ``/api/v1`` and the short
links at ``/i/{code}``; the campaign, trigger and intercept routers are
included here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import personal_token
from cxloop.distribution.callback_routes import router as callback_router
from cxloop.distribution.campaign_routes import router as campaign_router
from cxloop.distribution.directory import directory
from cxloop.distribution.intercept_routes import router as intercept_router
from cxloop.distribution.models import (
    DELIVERED,
    SENT,
    STARTED,
    UNSUBSCRIBED,
    ChannelConfig,
    DeliveryAttempt,
    FrequencyRule,
    Invitation,
    SendingPolicy,
)
from cxloop.distribution.providers import (
    MASK,
    PROVIDERS,
    channel_config,
    masked,
    missing_settings,
    settings_of,
    store_settings,
)
from cxloop.distribution.rules import DEFAULT_FALLBACK
from cxloop.distribution.schemas import (
    AttemptOut,
    ChannelIn,
    ChannelList,
    ChannelOut,
    InvitationIn,
    InvitationOut,
    InvitationPage,
    PolicyIn,
    PolicyOut,
    RuleIn,
    RuleList,
    RuleOut,
)
from cxloop.distribution.service import invite, now_utc, require_tenant_config
from cxloop.distribution.trigger_routes import router as trigger_router
from cxloop.identity import CurrentPrincipal, Perm, Principal, Unit
from cxloop.kit.crypto import FieldKeyError
from cxloop.kit.db import Database
from cxloop.kit.errors import FieldError, ValidationFailed, invalid, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import MAX_LIMIT, PageRequest, apply_keyset, make_page
from cxloop.kit.writelock import taking_turn

router = APIRouter(tags=["distribution"], route_class=TransactionalRoute)
API = "/api/v1"


def visible_invitations(principal: Principal, perm: Perm) -> Select[Any]:
    """Invitations within the caller's reach: tenant-wide, or of their units."""
    principal.require(perm)
    reach = principal.reach(perm)
    query = select(Invitation).where(Invitation.tenant_id == principal.tenant_id)
    if reach.everywhere:
        return query
    covered = select(Unit.id).where(Unit.tenant_id == principal.tenant_id)
    conditions = [Unit.id.in_(reach.unit_ids)] + [Unit.path.startswith(path) for path in reach.subtree_paths]
    return query.where(Invitation.unit_id.in_(covered.where(or_(*conditions))))


# --- invitations -------------------------------------------------------------------


@router.post(
    f"{API}/invitations", status_code=201, response_model=InvitationOut, summary="Invite one contact"
)
async def post_invitation(
    request: Request, body: InvitationIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.DATA_WRITE)
    if not principal.reach(Perm.DATA_WRITE).everywhere:
        require_tenant_config(principal)

    async def create() -> Any:
        if body.expires_at is not None and body.expires_at <= now_utc():
            raise invalid("expires_at", "must be in the future")
        invitation = await invite(
            session,
            principal.tenant_id,
            body.contact_id,
            body.survey_id,
            channel=body.channel,
            reason="api",
            touchpoint=body.touchpoint,
            embedded=dict(body.embedded),
            respect_frequency=body.respect_frequency,
            expires_at=body.expires_at,
        )
        return InvitationOut.of(invitation).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get(f"{API}/invitations", response_model=InvitationPage, summary="Invitations, newest first")
async def list_invitations(
    session: DbSession,
    principal: CurrentPrincipal,
    status: Annotated[str | None, Query(max_length=16)] = None,
    campaign_id: Annotated[str | None, Query(max_length=26)] = None,
    trigger_id: Annotated[str | None, Query(max_length=26)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    contact_id: Annotated[str | None, Query(max_length=26)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> InvitationPage:
    query = visible_invitations(principal, Perm.DATA_READ)
    for column, value in (
        (Invitation.status, status),
        (Invitation.campaign_id, campaign_id),
        (Invitation.trigger_id, trigger_id),
        (Invitation.channel, channel),
        (Invitation.contact_id, contact_id),
    ):
        if value is not None:
            query = query.where(column == value)
    page = PageRequest(limit=limit, cursor=cursor)
    rows = list(
        (
            await session.execute(apply_keyset(query, Invitation.id, "invitations", page, descending=True))
        ).scalars()
    )
    made = make_page(rows, "invitations", page, lambda row: row.id)
    return InvitationPage(items=[InvitationOut.of(row) for row in made.items], next_cursor=made.next_cursor)


async def _attempts(session: AsyncSession, invitation_id: str) -> list[AttemptOut]:
    found = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.invitation_id == invitation_id)
        .order_by(DeliveryAttempt.send_no, DeliveryAttempt.attempt)
    )
    return [
        AttemptOut(
            send_no=row.send_no,
            attempt=row.attempt,
            idempotency_key=row.idempotency_key,
            provider=row.provider,
            outcome=row.outcome,
            error=row.error,
            provider_message_id=row.provider_message_id,
            at=row.at,
        )
        for row in found.scalars()
    ]


@router.get(f"{API}/invitations/{{invitation_id}}", response_model=InvitationOut, summary="One invitation")
async def get_invitation(
    invitation_id: str, session: DbSession, principal: CurrentPrincipal
) -> InvitationOut:
    query = visible_invitations(principal, Perm.DATA_READ).where(Invitation.id == invitation_id)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("invitation")
    return InvitationOut.of(row, await _attempts(session, row.id))


# --- channel settings, policy, rules ----------------------------------------------


def _channel_out(row: ChannelConfig) -> ChannelOut:
    return ChannelOut(
        channel=row.channel,
        provider=row.provider,
        config=masked(dict(row.config)),
        enabled=row.enabled,
        updated_at=row.updated_at,
    )


@router.get(f"{API}/channels", response_model=ChannelList, summary="The tenant's channel settings")
async def list_channels(session: DbSession, principal: CurrentPrincipal) -> ChannelList:
    require_tenant_config(principal)
    found = await session.execute(
        select(ChannelConfig)
        .where(ChannelConfig.tenant_id == principal.tenant_id)
        .order_by(ChannelConfig.channel)
    )
    return ChannelList(items=[_channel_out(row) for row in found.scalars()])


@router.put(
    f"{API}/channels/{{channel}}", response_model=ChannelOut, summary="Set a channel's provider settings"
)
async def put_channel(
    channel: str, body: ChannelIn, session: DbSession, principal: CurrentPrincipal
) -> ChannelOut:
    require_tenant_config(principal)
    if channel not in PROVIDERS:
        raise not_found("channel")
    if body.provider not in PROVIDERS[channel]:
        raise invalid("provider", f"must be one of {', '.join(PROVIDERS[channel])}")
    row = await channel_config(session, principal.tenant_id, channel)
    config = dict(body.config)
    if row is not None and row.provider == body.provider and MASK in config.values():
        # A masked secret sent back unchanged keeps the stored one.
        try:
            stored = settings_of(row)
        except FieldKeyError:
            # Sealed under a key no longer in CXLOOP_FIELD_KEYS: it cannot be kept, only given
            # again (a 422 naming the settings, not a 500; nothing is written).
            raise ValidationFailed(
                "The stored secrets cannot be kept; enter them again.",
                errors=[
                    FieldError(
                        f"config.{key}",
                        "the stored value does not decrypt with the configured field keys: enter it again",
                    )
                    for key, value in config.items()
                    if value == MASK
                ],
            ) from None
        for key, value in list(config.items()):
            if value == MASK:
                config[key] = stored.get(key)
    missing = missing_settings(channel, body.provider, config)
    if missing:
        raise ValidationFailed(
            "Some settings are missing.",
            errors=[FieldError(f"config.{name}", "is required") for name in missing],
        )
    if row is None:
        row = ChannelConfig(id=new_id(), tenant_id=principal.tenant_id, channel=channel)
        session.add(row)
    row.provider, row.enabled, row.updated_at = body.provider, body.enabled, now_utc()
    store_settings(row, config)
    await session.flush()
    return _channel_out(row)


@router.get(
    f"{API}/sending-policy", response_model=PolicyOut, summary="Quiet hours and channel fallback order"
)
async def get_policy(session: DbSession, principal: CurrentPrincipal) -> PolicyOut:
    principal.require(Perm.DATA_READ)
    row = await session.get(SendingPolicy, principal.tenant_id)
    if row is None:
        return PolicyOut(quiet_start=None, quiet_end=None, fallback_order=list(DEFAULT_FALLBACK))
    return PolicyOut(
        quiet_start=row.quiet_start, quiet_end=row.quiet_end, fallback_order=list(row.fallback_order)
    )


@router.put(
    f"{API}/sending-policy", response_model=PolicyOut, summary="Set quiet hours and channel fallback order"
)
async def put_policy(body: PolicyIn, session: DbSession, principal: CurrentPrincipal) -> PolicyOut:
    require_tenant_config(principal)
    row = await session.get(SendingPolicy, principal.tenant_id)
    if row is None:
        row = SendingPolicy(tenant_id=principal.tenant_id)
        session.add(row)
    row.quiet_start, row.quiet_end = body.quiet_start, body.quiet_end
    row.fallback_order, row.updated_at = list(body.fallback_order), now_utc()
    await session.flush()
    return PolicyOut(
        quiet_start=row.quiet_start, quiet_end=row.quiet_end, fallback_order=list(row.fallback_order)
    )


def _rule_out(row: FrequencyRule) -> RuleOut:
    return RuleOut(
        id=row.id,
        name=row.name,
        survey_id=row.survey_id,
        channel=row.channel,
        attribute=row.attribute,
        attribute_value=row.attribute_value,
        max_count=row.max_count,
        period_days=row.period_days,
        created_at=row.created_at,
    )


@router.get(f"{API}/frequency-rules", response_model=RuleList, summary="Contact-frequency rules")
async def list_rules(session: DbSession, principal: CurrentPrincipal) -> RuleList:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(FrequencyRule)
        .where(FrequencyRule.tenant_id == principal.tenant_id)
        .order_by(FrequencyRule.created_at)
    )
    return RuleList(items=[_rule_out(row) for row in found.scalars()])


@router.post(
    f"{API}/frequency-rules", status_code=201, response_model=RuleOut, summary="Add a frequency rule"
)
async def post_rule(body: RuleIn, session: DbSession, principal: CurrentPrincipal) -> RuleOut:
    require_tenant_config(principal)
    if body.survey_id is not None:
        await open_survey_any(session, principal.tenant_id, body.survey_id)
    if (body.attribute is None) != (body.attribute_value is None):
        raise invalid("attribute_value", "attribute and attribute_value go together")
    row = FrequencyRule(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=body.name,
        survey_id=body.survey_id,
        channel=body.channel,
        attribute=body.attribute,
        attribute_value=body.attribute_value,
        max_count=body.max_count,
        period_days=body.period_days,
        created_at=now_utc(),
    )
    session.add(row)
    await session.flush()
    return _rule_out(row)


async def open_survey_any(session: AsyncSession, tenant_id: str, survey_id: str) -> None:
    from cxloop.surveys import Survey

    survey = await session.get(Survey, survey_id)
    if survey is None or survey.tenant_id != tenant_id:
        raise not_found("survey")


@router.delete(f"{API}/frequency-rules/{{rule_id}}", status_code=204, summary="Remove a frequency rule")
async def delete_rule(rule_id: str, session: DbSession, principal: CurrentPrincipal) -> Response:
    require_tenant_config(principal)
    result = await session.execute(
        delete(FrequencyRule).where(
            FrequencyRule.id == rule_id, FrequencyRule.tenant_id == principal.tenant_id
        )
    )
    if not getattr(result, "rowcount", 0):
        raise not_found("frequency rule")
    return Response(status_code=204)


# --- short links and unsubscribe ---------------------------------------------------


def _secret(request: Request) -> str:
    key: str | None = getattr(request.app.state, "secret_key", None)
    return key or request.app.state.settings.effective_secret_key()


async def _by_code(session: AsyncSession, code: str) -> Invitation:
    if not code or len(code) > 24 or not code.replace("-", "").replace("_", "").isalnum():
        raise not_found("link")
    row = (await session.execute(select(Invitation).where(Invitation.code == code))).scalar_one_or_none()
    if row is None or row.link_id is None:
        raise not_found("link")
    return row


@router.get("/i/{code}", include_in_schema=False)
async def follow_short_link(request: Request, code: str, session: DbSession) -> RedirectResponse:
    """The short link in a message: counts the open, then goes to the personal survey link."""
    invitation = await _by_code(session, code)
    if invitation.status in (SENT, DELIVERED):
        # A GET's session does not commit: the open is counted in a short write of its own.
        db: Database = request.app.state.db
        async with taking_turn(db), db.session(write=True) as writer:
            await writer.execute(
                update(Invitation)
                .where(Invitation.id == invitation.id, Invitation.status.in_((SENT, DELIVERED)))
                .values(status=STARTED)
            )
            await writer.commit()
    assert invitation.link_id is not None
    target = f"/s/{invitation.survey_id}?t={personal_token(_secret(request), invitation.link_id)}"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


_UNSUBSCRIBED = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribed</title></head>
<body><p>您已退订，今后不会再收到此类邀请。</p>
<p>You are unsubscribed and will not receive these invitations again.</p>
</body></html>"""

_CONFIRM = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body><form method="post"><p>退订问卷邀请邮件？ / Stop survey invitations by email?</p>
<button type="submit">退订 / Unsubscribe</button></form></body></html>"""


@router.get("/i/{code}/unsubscribe", include_in_schema=False)
async def unsubscribe_page(code: str, session: DbSession) -> HTMLResponse:
    await _by_code(session, code)
    # A GET never unsubscribes: link scanners follow every URL in a message.
    return HTMLResponse(_CONFIRM, headers={"Cache-Control": "no-store"})


@router.post("/i/{code}/unsubscribe", include_in_schema=False)
async def unsubscribe(code: str, session: DbSession) -> HTMLResponse:
    """RFC 8058 one-click (``List-Unsubscribe=One-Click``) or the page's button:
    the consent ledger gets a withdrawal that every later send honours."""
    invitation = await _by_code(session, code)
    await withdraw(session, invitation, invitation.channel or "email", "unsubscribe_link")
    return HTMLResponse(_UNSUBSCRIBED)


async def withdraw(session: AsyncSession, invitation: Invitation, channel: str, source: str) -> None:
    await directory().withdraw(session, invitation.tenant_id, invitation.contact_id, channel, source=source)
    invitation.status = UNSUBSCRIBED


router.include_router(callback_router)
router.include_router(campaign_router)
router.include_router(trigger_router)
router.include_router(intercept_router)
