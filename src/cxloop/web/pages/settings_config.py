"""Settings sections over the domains' configuration: channels and the
sending policy, cases (SLA, root causes, business calendar), analytics and
text. Each form calls what the JSON API calls (the route functions where the
rules live there), so both refuse the same things the same way.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from cxloop.analytics.metrics import FIXED, PREFIXED
from cxloop.analytics.schemas import AnalyticsSettingsIn, TargetIn
from cxloop.analytics.service import delete_target, get_settings_view, list_targets, put_settings, set_target
from cxloop.cases import config as case_config
from cxloop.cases.schemas import CalendarIn, RootCauseIn, RootCausePatch, SlaPolicyIn
from cxloop.cases.sla import DAYS
from cxloop.cases.states import PRIORITIES
from cxloop.distribution import routes as distribution_api
from cxloop.distribution.providers import PROVIDERS, SECRET_KEYS
from cxloop.distribution.schemas import ChannelIn, PolicyIn, RuleIn
from cxloop.identity import Principal
from cxloop.kit.errors import AppError, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.numbers import ascii_digits
from cxloop.text import routes as text_api
from cxloop.text.model_summary import adaptation_stamps
from cxloop.text.schemas import SettingsIn
from cxloop.web.i18n import N_
from cxloop.web.pages.cases import PRIORITY_LABELS
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, see_other
from cxloop.web.pages.settings import (
    NAME_LOCALES,
    NO_CONTROL_CHARACTERS,
    all_units,
    errors_of,
    expired,
    notice_of,
    refusal,
    require_settings,
    text_of,
    unit_options,
    unit_rows,
)

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

CHANNEL_LABELS = {"email": N_("Email"), "sms": N_("SMS"), "wechat": N_("WeChat"), "wecom": N_("WeCom")}
PROVIDER_LABELS = {
    "smtp": N_("SMTP server"),
    "aliyun": N_("Alibaba Cloud SMS"),
    "tencent": N_("Tencent Cloud SMS"),
    "twilio": "Twilio",
    "http": N_("HTTP gateway"),
    "wechat_mp": N_("WeChat official account"),
    "wecom": N_("WeCom application"),
}
# The settings each provider's adapter reads: required ones first (PROVIDERS), then optional ones.
OPTIONAL_SETTINGS = {
    "smtp": ("port", "security", "username", "password", "from"),
    "aliyun": ("endpoint",),
    "http": ("token",),
    "wechat_mp": ("mode", "title_field"),
}
NUMBER_SETTINGS = frozenset({"port"})
NOTHING = "-"
FALLBACK_SLOTS = 4
CHANNELS = ("email", "sms", "wechat", "wecom")


def _form_ok(request: Request, form: FormData, principal: Principal) -> Response | None:
    require_settings(principal)
    return None if form_csrf_ok(request, form) else expired(request, principal)


def _settings_of(provider: str, channel: str) -> list[dict[str, Any]]:
    required = PROVIDERS[channel][provider][1]
    names = [*required, *(n for n in OPTIONAL_SETTINGS.get(provider, ()) if n not in required)]
    return [{"name": n, "required": n in required, "secret": n in SECRET_KEYS} for n in names]


# --- channels, sending policy, frequency rules ----------------------------------------


async def _channels_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, str]] | None = None,
) -> Response:
    stored = {c.channel: c for c in (await distribution_api.list_channels(session, principal)).items}
    policy = await distribution_api.get_policy(session, principal)
    rules = (await distribution_api.list_rules(session, principal)).items
    channels = []
    for channel in CHANNELS:
        row = stored.get(channel)
        channels.append(
            {
                "channel": channel,
                "row": row,
                "providers": [
                    {"provider": p, "settings": _settings_of(p, channel)} for p in PROVIDERS[channel]
                ],
            }
        )
    forms = forms or {}
    order = list(policy.fallback_order)
    context = {
        "channels": channels,
        "channel_labels": CHANNEL_LABELS,
        "provider_labels": PROVIDER_LABELS,
        "policy": forms.get(
            "policy",
            {
                "quiet_start": policy.quiet_start or "",
                "quiet_end": policy.quiet_end or "",
                **{f"fallback_{i}": order[i] if i < len(order) else NOTHING for i in range(FALLBACK_SLOTS)},
            },
        ),
        "fallback_slots": range(FALLBACK_SLOTS),
        "rules": rules,
        "rule_form": forms.get(
            "rule",
            {"name": "", "channel": "", "max_count": "", "period_days": "", "attribute": "", "value": ""},
        ),
        "channel_forms": {k: v for k, v in forms.items() if k in CHANNELS},
        "errors": errors or {},
        "notice": notice_of(request),
    }
    return render(request, "settings/channels.html", context, status=status, principal=principal)


@router.get("/settings/channels")
async def channels_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    return await _channels_page(request, session, principal)


@router.post("/settings/channels/{channel}")
async def channel_form(request: Request, channel: str, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    if channel not in CHANNELS:
        raise not_found("channel")
    provider = text_of(form, "provider", 20)
    prefix = f"{channel}:"
    values: dict[str, str] = {"provider": provider, "enabled": "1" if form.get("enabled") else ""}
    errors: dict[str, str] = {}
    config: dict[str, Any] = {}
    if provider not in PROVIDERS[channel]:
        errors[prefix + "provider"] = N_("Choose a provider from the list.")
    else:
        stored = {c.channel: c for c in (await distribution_api.list_channels(session, principal)).items}
        row = stored.get(channel)
        for setting in _settings_of(provider, channel):
            name = setting["name"]
            text = text_of(form, f"{provider}.{name}", 2000)
            if not setting["secret"]:
                values[f"{provider}.{name}"] = text
            if setting["secret"] and not text and row and row.provider == provider and row.config.get(name):
                config[name] = "********"  # the API keeps the stored secret for its mask
            elif name in NUMBER_SETTINGS and text:
                if not ascii_digits(text, 5) or not 0 < int(text) < 65536:
                    errors[f"{prefix}{provider}.{name}"] = N_("Enter a port number from 1 to 65535.")
                else:
                    config[name] = int(text)
            elif text:
                config[name] = text
    if not errors:
        try:
            body = ChannelIn.model_validate(
                {"provider": provider, "config": config, "enabled": bool(values["enabled"])}
            )
            await distribution_api.put_channel(channel, body, session, principal)
            return see_other("/settings/channels?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            fields = {
                f"config.{s['name']}": f"{provider}.{s['name']}" for s in _settings_of(provider, channel)
            }
            errors = errors_of(error, fields, "provider", prefix)
            if isinstance(error, AppError):
                # The API names the settings that are missing.
                required = {prefix + field for field in fields.values()}
                errors = {
                    k: N_("This setting is required.") if k in required else v for k, v in errors.items()
                }
    return await _channels_page(
        request, session, principal, status=422, errors=errors, forms={channel: values}
    )


@router.post("/settings/sending-policy")
async def policy_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {name: text_of(form, name, 10) for name in ("quiet_start", "quiet_end")}
    order: list[str] = []
    errors: dict[str, str] = {}
    for slot in range(FALLBACK_SLOTS):
        chosen = text_of(form, f"fallback_{slot}", 10) or NOTHING
        values[f"fallback_{slot}"] = chosen
        if chosen == NOTHING:
            continue
        if chosen not in CHANNELS:
            errors[f"fallback_{slot}"] = N_("Choose a channel from the list.")
        elif chosen in order:
            errors[f"fallback_{slot}"] = N_("Each channel may appear once.")
        order.append(chosen)
    if bool(values["quiet_start"]) != bool(values["quiet_end"]):
        errors["quiet_start" if not values["quiet_start"] else "quiet_end"] = N_(
            "Give both the start and the end of the quiet hours, or neither."
        )
    if not order:
        errors["fallback_0"] = N_("Choose at least one channel.")
    if not errors:
        try:
            body = PolicyIn.model_validate(
                {
                    "quiet_start": values["quiet_start"] or None,
                    "quiet_end": values["quiet_end"] or None,
                    "fallback_order": order,
                }
            )
            await distribution_api.put_policy(body, session, principal)
            return see_other("/settings/channels?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            fields = {"quiet_start": "quiet_start", "quiet_end": "quiet_end", "fallback_order": "fallback_0"}
            errors = errors_of(error, fields, "quiet_start")
            for name in ("quiet_start", "quiet_end"):
                if name in errors:
                    errors[name] = N_("Enter a time as HH:MM, such as 21:00.")
    return await _channels_page(
        request, session, principal, status=422, errors=errors, forms={"policy": values}
    )


@router.post("/settings/frequency-rules")
async def rule_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    names = ("name", "channel", "max_count", "period_days", "attribute", "value")
    values = {name: text_of(form, name, 200) for name in names}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = N_("Give the rule a name.")
    if values["channel"] and values["channel"] not in CHANNELS:
        errors["channel"] = N_("Choose a channel from the list.")
    for name in ("name", "attribute", "value"):
        if not values[name].isprintable():  # as RuleIn refuses them for the API
            errors[name] = NO_CONTROL_CHARACTERS
    ranges = (
        ("max_count", 1000, N_("Enter a whole number from 1 to 1000.")),
        ("period_days", 3660, N_("Enter a whole number of days from 1 to 3660.")),
    )
    for name, top, message in ranges:
        if not ascii_digits(values[name], 6) or not 1 <= int(values[name]) <= top:
            errors[name] = message
    if bool(values["attribute"]) != bool(values["value"]):
        errors["value" if values["attribute"] else "attribute"] = N_(
            "Give both the attribute and its value, or neither."
        )
    if not errors:
        try:
            body = RuleIn.model_validate(
                {
                    "name": values["name"],
                    "channel": values["channel"] or None,
                    "max_count": int(values["max_count"]),
                    "period_days": int(values["period_days"]),
                    "attribute": values["attribute"] or None,
                    "attribute_value": values["value"] or None,
                }
            )
            await distribution_api.post_rule(body, session, principal)
            return see_other("/settings/channels?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            errors = errors_of(error, {n: n for n in names} | {"attribute_value": "value"}, "name")
    return await _channels_page(
        request, session, principal, status=422, errors=errors, forms={"rule": values}
    )


@router.post("/settings/frequency-rules/{rule_id}/delete")
async def rule_delete(request: Request, rule_id: str, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    if len(rule_id) > 26:
        raise not_found("frequency rule")
    await distribution_api.delete_rule(rule_id, session, principal)
    return see_other("/settings/channels?saved=removed")


# --- cases: SLA, root causes, business calendar -----------------------------------------


def _hours_text(spans: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in spans)


async def _cases_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, str]] | None = None,
) -> Response:
    forms = forms or {}
    policies = await case_config.list_policies(session, principal)
    causes = await case_config.list_root_causes(session, principal)
    try:
        calendar: dict[str, Any] | None = await case_config.get_calendar(session, principal, None)
    except AppError as exc:
        if exc.status != 404:
            raise
        calendar = None
    calendar_form = forms.get("calendar") or {
        **{f"hours_{day}": _hours_text(calendar["hours"].get(day, [])) if calendar else "" for day in DAYS},
        "holidays": "\n".join(calendar["holidays"]) if calendar else "",
        "workdays": "\n".join(calendar["workdays"]) if calendar else "",
    }
    context = {
        "policies": policies,
        "policy_forms": {k[4:]: v for k, v in forms.items() if k.startswith("sla:")},
        "priority_labels": PRIORITY_LABELS,
        "causes": _cause_rows(causes),
        "cause_options": [(row["code"], row["label"]) for row in _cause_rows(causes)],
        "cause_form": forms.get("cause", {"code": "", "parent_code": "", "name_zh-CN": "", "name_en": ""}),
        "cause_forms": {k[6:]: v for k, v in forms.items() if k.startswith("cause:")},
        "name_locales": NAME_LOCALES,
        "days": DAYS,
        "calendar": calendar_form,
        "calendar_set": calendar is not None,
        "errors": errors or {},
        "notice": notice_of(request),
    }
    return render(request, "settings/cases.html", context, status=status, principal=principal)


def _cause_rows(causes: list[Any]) -> list[dict[str, Any]]:
    """The root causes in tree order with their depth (a cause whose parent is gone is a root)."""
    by_code = {c.code: c for c in causes}
    children: dict[str | None, list[Any]] = {}
    for cause in causes:
        parent = cause.parent_code if cause.parent_code in by_code else None
        children.setdefault(parent, []).append(cause)
    rows: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for cause in sorted(children.get(parent, []), key=lambda c: c.code):
            name = cause.names.get("zh-CN") or next(iter(cause.names.values()), cause.code)
            label = "\u00a0\u00a0" * depth + f"{name} ({cause.code})"
            rows.append({"cause": cause, "depth": depth, "label": label, "code": cause.code})
            walk(cause.code, depth + 1)

    walk(None, 0)
    return rows


@router.get("/settings/cases")
async def cases_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    return await _cases_page(request, session, principal)


@router.post("/settings/cases/sla/{priority}")
async def sla_form(request: Request, priority: str, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    if priority not in PRIORITIES:
        raise not_found("priority")
    names = ("acknowledge_minutes", "resolve_minutes", "escalate_every_minutes")
    values = {name: text_of(form, name, 10) for name in names}
    values["business_hours"] = "1" if form.get("business_hours") else ""
    prefix = f"{priority}:"
    errors = {
        prefix + name: N_("Enter a whole number of minutes.")
        for name in names
        if not ascii_digits(values[name])
    }
    if not errors:
        try:
            body = SlaPolicyIn.model_validate(
                {
                    **{name: int(values[name]) for name in names},
                    "business_hours": bool(values["business_hours"]),
                }
            )
            await case_config.put_policy(session, principal, priority, body.model_dump())
            return see_other("/settings/cases?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            errors = errors_of(error, {n: n for n in names}, "resolve_minutes", prefix)
            errors = {
                key: N_("Resolving cannot be due before acknowledging.")
                if key.endswith(":resolve_minutes") and isinstance(error, AppError)
                else N_("Enter minutes within the allowed range (escalation every 5 minutes or more).")
                for key in errors
            }
    return await _cases_page(
        request, session, principal, status=422, errors=errors, forms={f"sla:{priority}": values}
    )


def _cause_names(form: FormData) -> dict[str, str]:
    names = {tag: text_of(form, f"name_{tag}", 300) for tag in NAME_LOCALES}
    return {tag: text for tag, text in names.items() if text}


@router.post("/settings/cases/root-causes")
async def cause_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {name: text_of(form, name, 300) for name in ("code", "parent_code", "name_zh-CN", "name_en")}
    errors: dict[str, str] = {}
    if not values["code"]:
        errors["cause_code"] = N_("Give the root cause a code.")
    names = _cause_names(form)
    if not names:
        errors["cause_name_zh-CN"] = N_("Give a name in at least one language.")
    if not errors:
        try:
            body = RootCauseIn.model_validate(
                {"code": values["code"], "names": names, "parent_code": values["parent_code"] or None}
            )
            await case_config.create_root_cause(session, principal, body.code, body.names, body.parent_code)
            return see_other("/settings/cases?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            fields = {"code": "cause_code", "parent_code": "cause_parent", "names": "cause_name_zh-CN"}
            errors = errors_of(error, fields, "cause_code")
            if "cause_code" in errors and errors["cause_code"] == N_("This value is not valid."):
                errors["cause_code"] = N_(
                    "A code has 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
                )
    return await _cases_page(request, session, principal, status=422, errors=errors, forms={"cause": values})


@router.post("/settings/cases/root-causes/{code}")
async def cause_change_form(request: Request, code: str, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {f"name_{tag}": text_of(form, f"name_{tag}", 300) for tag in NAME_LOCALES}
    action = text_of(form, "action", 20)
    prefix = f"{code}:"
    names = _cause_names(form)
    errors: dict[str, str] = {}
    if action == "rename" and not names:
        errors[prefix + "name_zh-CN"] = N_("Give a name in at least one language.")
    if not errors:
        try:
            changes: dict[str, Any]
            if action == "rename":
                changes = {"names": names}
            elif action in ("retire", "restore"):
                changes = {"active": action == "restore"}
            else:
                raise not_found("page")
            patch = RootCausePatch.model_validate(changes)
            await case_config.update_root_cause(
                session, principal, code, patch.model_dump(exclude_unset=True)
            )
            return see_other("/settings/cases?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            errors = errors_of(error, {"names": "name_zh-CN"}, "name_zh-CN", prefix)
            errors = {key: N_("A name needs 1 to 200 characters.") for key in errors}
    return await _cases_page(
        request, session, principal, status=422, errors=errors, forms={f"cause:{code}": values}
    )


def _parse_spans(text: str) -> list[list[str]] | None:
    """``09:00-12:00, 13:00-18:00`` as ``[["09:00", "12:00"], ...]``; None when not of that shape."""
    spans = []
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        start, sep, end = part.strip().partition("-")
        if not sep:
            return None
        spans.append([start.strip(), end.strip()])
    return spans


@router.post("/settings/cases/calendar")
async def calendar_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {f"hours_{day}": text_of(form, f"hours_{day}", 200) for day in DAYS}
    values["holidays"] = text_of(form, "holidays", 20_000)
    values["workdays"] = text_of(form, "workdays", 20_000)
    errors: dict[str, str] = {}
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        spans = _parse_spans(values[f"hours_{day}"])
        if spans is None:
            errors[f"hours_{day}"] = N_("Write opening hours as 09:00-18:00, several separated by commas.")
        elif spans:
            hours[day] = spans
    if not errors:
        try:
            body = CalendarIn.model_validate(
                {
                    "hours": hours,
                    "holidays": values["holidays"].split(),
                    "workdays": values["workdays"].split(),
                }
            )
            await case_config.put_calendar(session, principal, None, body.model_dump())
            return see_other("/settings/cases?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            fields = {f"hours.{day}": f"hours_{day}" for day in DAYS}
            fields |= {"holidays": "holidays", "workdays": "workdays"}
            errors = {
                key: N_("Write opening hours as 09:00-18:00, several separated by commas.")
                if key.startswith("hours_")
                else N_("Write one date a line as YYYY-MM-DD.")
                for key in errors_of(error, fields, "hours_mon")
            }
    return await _cases_page(
        request, session, principal, status=422, errors=errors, forms={"calendar": values}
    )


# --- analytics and text -----------------------------------------------------------------


async def _analytics_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    forms: dict[str, dict[str, str]] | None = None,
) -> Response:
    forms = forms or {}
    locale = getattr(request.state, "locale", None) or principal.locale or "zh-CN"
    units, _cut = await all_units(session, principal)
    current = await get_settings_view(session, principal)
    text_current = await text_api.get_text_settings(session, principal)
    learned = await adaptation_stamps(session, principal.tenant_id)
    context = {
        "adapted": learned.get("adapted"),
        "scored_zh": learned.get("scored-zh"),
        "min_n": forms.get("min_n", {"min_n": str(current["min_n"])}),
        "targets": await list_targets(session, principal),
        "target_form": forms.get("target", {"unit_code": "", "metric": "nps", "value": ""}),
        "unit_options": unit_options(unit_rows(units, locale)),
        "metrics": FIXED,
        "metric_prefixes": PREFIXED,
        "text": forms.get(
            "text",
            {
                "mask_pii": "1" if text_current.mask_pii else "",
                "keep_original": "1" if text_current.keep_original else "",
                "auto_adapt": "1" if text_current.auto_adapt else "",
            },
        ),
        "errors": errors or {},
        "notice": notice_of(request),
    }
    return render(request, "settings/analytics.html", context, status=status, principal=principal)


@router.get("/settings/analytics")
async def analytics_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    require_settings(principal)
    return await _analytics_page(request, session, principal)


@router.post("/settings/analytics/min-n")
async def min_n_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {"min_n": text_of(form, "min_n", 10)}
    try:
        if not ascii_digits(values["min_n"]):
            raise ValueError(values["min_n"])
        await put_settings(
            session, principal, AnalyticsSettingsIn.model_validate({"min_n": int(values["min_n"])})
        )
        return see_other("/settings/analytics?saved=saved")
    except (AppError, ValidationError, ValueError) as exc:
        if not isinstance(exc, ValueError):
            refusal(exc)
        await session.rollback()
    errors = {"min_n": N_("Enter a whole number from 1 to 1000.")}
    return await _analytics_page(
        request, session, principal, status=422, errors=errors, forms={"min_n": values}
    )


@router.post("/settings/analytics/targets")
async def target_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    values = {name: text_of(form, name, 80) for name in ("unit_code", "metric", "value")}
    errors: dict[str, str] = {}
    value: float | None = None
    try:
        value = float(values["value"].replace(",", "."))
        if not math.isfinite(value) or abs(value) > 1e9:
            raise ValueError(values["value"])
    except ValueError:
        errors["target_value"] = N_("Enter a number, such as 45 or 4.5.")
    units, _cut = await all_units(session, principal)
    if values["unit_code"] and values["unit_code"] not in {u.code for u in units}:
        errors["target_unit"] = N_("Choose a unit from the list.")
    if not errors and value is not None:
        try:
            body = TargetIn.model_validate(
                {"unit_code": values["unit_code"] or None, "metric": values["metric"], "value": value}
            )
            await set_target(session, principal, body)
            return see_other("/settings/analytics?saved=saved")
        except (AppError, ValidationError) as exc:
            error = refusal(exc)
            await session.rollback()
            fields = {"unit_code": "target_unit", "metric": "target_metric", "value": "target_value"}
            errors = errors_of(error, fields, "target_metric")
            if "target_metric" in errors and errors["target_metric"] == N_("This value is not valid."):
                errors["target_metric"] = N_(
                    "Choose a metric from the list, or prefix mean:, choices: or custom:."
                )
    return await _analytics_page(
        request, session, principal, status=422, errors=errors, forms={"target": values}
    )


@router.post("/settings/analytics/targets/{target_id}/delete")
async def target_delete(
    request: Request, target_id: str, session: DbSession, principal: SignedIn
) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    await delete_target(session, principal, target_id)
    return see_other("/settings/analytics?saved=removed")


@router.post("/settings/text")
async def text_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if (refused := _form_ok(request, form, principal)) is not None:
        return refused
    mask = bool(form.get("mask_pii"))
    keep = bool(form.get("keep_original"))
    adapt = bool(form.get("auto_adapt"))
    await text_api.put_text_settings(
        SettingsIn(mask_pii=mask, keep_original=keep, auto_adapt=adapt), session, principal
    )
    return see_other("/settings/analytics?saved=saved")
