"""Pages of the distribution domain: campaigns (list, create with an audience
preview, test send to yourself, launch), triggers, and delivery status.

Every form goes through the same services as the API, so the same checks
and permissions hold; a refused form is shown again with its message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select

from cxloop.distribution.campaign_routes import (
    AudienceIn,
    CampaignIn,
    TestSendIn,
    create_campaign,
    launch,
    test_send,
)
from cxloop.distribution.campaigns import audience_count, campaign_funnel
from cxloop.distribution.models import STATUSES, Campaign, Invitation, Trigger
from cxloop.distribution.routes import visible_invitations
from cxloop.distribution.trigger_routes import TriggerIn, run_counts
from cxloop.identity import Perm, Principal
from cxloop.kit.errors import AppError
from cxloop.kit.formjson import NotFormJson, parse_form_json
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.numbers import ascii_digits
from cxloop.surveys import PUBLISHED, Survey, SurveyVersion, text_in
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, request_locale, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

STATUS_LABELS = {
    "scheduled": N_("Scheduled"),
    "queued": N_("Queued"),
    "retrying": N_("Retrying"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "bounced": N_("Bounced"),
    "failed": N_("Failed"),
    "started": N_("Started"),
    "completed": N_("Completed"),
    "unsubscribed": N_("Unsubscribed"),
    "skipped": N_("Skipped"),
    "draft": N_("Draft"),
    "finished": N_("Finished"),
    "running": N_("Running"),
}
CHANNEL_LABELS = {"email": N_("Email"), "sms": N_("SMS"), "wechat": N_("WeChat"), "wecom": N_("WeCom")}


async def published_surveys(session: Any, principal: Principal, locale: str) -> list[tuple[str, str]]:
    found = await session.execute(
        select(Survey.id, SurveyVersion.definition)
        .join(
            SurveyVersion,
            (SurveyVersion.survey_id == Survey.id) & (SurveyVersion.version == Survey.published_version),
        )
        .where(Survey.tenant_id == principal.tenant_id, Survey.status == PUBLISHED)
        .order_by(Survey.created_at.desc())
        .limit(200)
    )
    out = []
    for survey_id, definition in found.all():
        title = definition.get("title") if isinstance(definition, dict) else None
        default = definition.get("default_language", "zh-CN") if isinstance(definition, dict) else "zh-CN"
        out.append(
            (survey_id, text_in(title if isinstance(title, dict) else None, locale, default) or survey_id)
        )
    return out


def _problem(error: AppError | ValidationError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    if error.errors:
        return "; ".join(f"{e.path}: {e.message}" for e in error.errors[:3])
    return error.detail


def _bounds(name: str) -> tuple[int, int]:
    # Read from the API's schema so that the page and the API cannot drift apart.
    low = high = 0
    for rule in CampaignIn.model_fields[name].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


# Fields typed as text on the form; (what the number counts, its value when left empty).
WHOLE_NUMBERS: dict[str, tuple[str, int | None]] = {
    "reminder_after_days": ("days", None),
    "max_reminders": ("reminders", 0),
    "link_days": ("days", None),
}


def _whole_numbers(values: dict[str, str]) -> dict[str, int | None]:
    """The form's counts, or ValueError with the page's message for the first bad one.

    ASCII digits only: int() would take '١٢' as 12, word a letter in Python's
    terms and refuse 5,000 digits with a message about the interpreter.
    """
    out: dict[str, int | None] = {}
    for name, (unit, empty) in WHOLE_NUMBERS.items():
        text = values[name]
        if not text:
            out[name] = empty
            continue
        low, high = _bounds(name)
        if not ascii_digits(text, len(str(high))) or not low <= int(text) <= high:
            raise ValueError(f"{name}: enter a whole number of {unit} from {low} to {high}")
        out[name] = int(text)
    return out


def _ids(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part][:10_000]


async def _campaigns_page(
    request: Request,
    session: Any,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    preview: int | None = None,
    status: int = 200,
) -> Response:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(Campaign)
        .where(Campaign.tenant_id == principal.tenant_id)
        .order_by(Campaign.created_at.desc())
        .limit(200)
    )
    rows = [(row, await campaign_funnel(session, principal.tenant_id, row.id)) for row in found.scalars()]
    context = {
        "rows": rows,
        "surveys": await published_surveys(session, principal, request_locale(request, principal)),
        "form": form or {},
        "error": error,
        "notice": notice,
        "preview": preview,
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "can_write": principal.can(Perm.DATA_WRITE) and principal.reach(Perm.DATA_WRITE).everywhere,
    }
    return render(request, "distribution/campaigns.html", context, principal=principal, status=status)


@router.get("/campaigns")
async def campaigns_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    return await _campaigns_page(request, session, principal, notice=request.query_params.get("notice"))


def _expired(request: Request, principal: Principal) -> Response:
    return render(
        request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
    )


@router.post("/campaigns")
async def campaigns_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    values = {
        key: str(form.get(key) or "").strip()
        for key in (
            "name",
            "survey_id",
            "segment_id",
            "contact_ids",
            "channel",
            "reminder_after_days",
            "max_reminders",
            "link_days",
        )
    }
    audience: dict[str, Any] = (
        {"segment_id": values["segment_id"]}
        if values["segment_id"]
        else {"contact_ids": _ids(values["contact_ids"])}
    )
    try:
        if form.get("action") == "preview":
            probe = AudienceIn.model_validate(audience)
            count = await audience_count(
                session,
                Campaign(
                    tenant_id=principal.tenant_id, segment_id=probe.segment_id, contact_ids=probe.contact_ids
                ),
            )
            return await _campaigns_page(request, session, principal, form=values, preview=count)
        body = CampaignIn.model_validate(
            {
                "name": values["name"],
                "survey_id": values["survey_id"],
                "channel": values["channel"] or None,
                **_whole_numbers(values),
                **audience,
            }
        )
        await create_campaign(session, principal, body)
    except (AppError, ValidationError, ValueError) as error:
        if isinstance(error, AppError) and error.status >= 500:
            raise
        message = _problem(error) if isinstance(error, AppError | ValidationError) else str(error)
        await session.rollback()
        return await _campaigns_page(request, session, principal, form=values, error=message, status=422)
    return see_other("/campaigns?notice=created")


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_action(
    campaign_id: str, action: str, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    try:
        if action == "launch":
            await launch(session, principal, campaign_id)
            return see_other("/campaigns?notice=launched")
        if action == "test-send":
            sent = await test_send(session, principal, campaign_id, TestSendIn())
            return see_other(f"/campaigns?notice=test:{sent['to']}")
    except AppError as error:
        if error.status >= 500:
            raise
        await session.rollback()
        return await _campaigns_page(request, session, principal, error=_problem(error), status=error.status)
    return await _campaigns_page(request, session, principal, error="unknown action", status=404)


async def _triggers_page(
    request: Request,
    session: Any,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(Trigger).where(Trigger.tenant_id == principal.tenant_id).order_by(Trigger.created_at)
    )
    context = {
        "rows": list(found.scalars()),
        "runs": await run_counts(session, principal.tenant_id),
        "surveys": await published_surveys(session, principal, request_locale(request, principal)),
        "form": form or {"conditions": "[]", "delay_minutes": "0"},
        "error": error,
        "saved": request.query_params.get("saved") == "1",
        "channel_labels": CHANNEL_LABELS,
        "can_write": principal.can(Perm.CONFIG_WRITE) and principal.reach(Perm.CONFIG_WRITE).everywhere,
    }
    return render(request, "distribution/triggers.html", context, principal=principal, status=status)


@router.get("/triggers")
async def triggers_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    return await _triggers_page(request, session, principal)


@router.post("/triggers")
async def triggers_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    from cxloop.distribution.trigger_routes import post_trigger

    form = await request.form()
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    values = {
        key: str(form.get(key) or "").strip()
        for key in ("name", "event_type", "survey_id", "channel", "conditions", "delay_minutes")
    }
    try:
        conditions = parse_form_json(values["conditions"] or "[]")
        body = TriggerIn.model_validate(
            {
                "name": values["name"],
                "event_type": values["event_type"],
                "survey_id": values["survey_id"],
                "channel": values["channel"] or None,
                "conditions": conditions,
                "delay_seconds": int(float(values["delay_minutes"] or 0) * 60),
            }
        )
        await post_trigger(body, session, principal)
    except (AppError, ValidationError, ValueError, OverflowError) as error:
        if isinstance(error, AppError) and error.status >= 500:
            raise
        if isinstance(error, AppError | ValidationError):
            message = _problem(error)
        elif isinstance(error, NotFormJson):
            message = f"conditions: not valid JSON: {error.reason}"
        else:  # the delay is not a number, or one too large to be a delay ("inf", "1e400")
            message = "delay_minutes: enter a number of minutes"
        await session.rollback()
        return await _triggers_page(request, session, principal, form=values, error=message, status=422)
    return see_other("/triggers?saved=1")


@router.get("/deliveries")
async def deliveries_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    status = request.query_params.get("status") or None
    if status not in STATUSES:
        status = None
    query = visible_invitations(principal, Perm.DATA_READ)
    counts_query = select(Invitation.status, func.count()).where(
        Invitation.id.in_(query.with_only_columns(Invitation.id))
    )
    counts = {
        name: int(count)
        for name, count in (await session.execute(counts_query.group_by(Invitation.status))).all()
    }
    if status is not None:
        query = query.where(Invitation.status == status)
    rows = list((await session.execute(query.order_by(Invitation.created_at.desc()).limit(200))).scalars())
    context = {
        "rows": rows,
        "counts": counts,
        "status": status,
        "statuses": STATUSES,
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
    }
    return render(request, "distribution/deliveries.html", context, principal=principal)
