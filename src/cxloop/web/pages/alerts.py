"""Pages of the alerts domain: ``/alerts`` lists the rules (create from a preset or a JSON
definition, enable, disable) and the recent alerts in the reader's scope, with the volume
of the last 30 days. The page calls the same services as the API, so who may do what and
what a definition may say are decided in one place.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cxloop.alerts import manage
from cxloop.alerts.service import create_rule, list_rules, update_rule
from cxloop.identity import Perm
from cxloop.kit.errors import ValidationFailed
from cxloop.kit.formjson import parse_form_json
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import PageRequest
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "detractor": (
        N_("Detractor (NPS 0-6): open a case, tell the store manager"),
        {
            "kind": "response",
            "condition": {"source": "answers", "field": "nps", "op": "le", "value": 6},
            "priority": "high",
            "actions": {"open_case": {"dedupe_days": 7}, "notify": [{"to": "unit_manager"}]},
        },
    ),
    "complaint": (
        N_("Complaint words in a comment (投诉, 12315, 退款, 曝光, refund, lawyer...)"),
        {
            "kind": "response",
            "condition": {"words": {}},
            "priority": "urgent",
            "actions": {"open_case": {}, "notify": [{"to": "unit_manager"}]},
        },
    ),
}
KIND_LABELS = {"response": N_("Response rule"), "metric": N_("Metric rule")}
PRIORITY_LABELS = {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")}
ERRORS = {
    "csrf_failed": N_("The form expired. Please try again."),
    "forbidden": N_("You may not change alert rules."),
}


async def _page(
    request: Request,
    session: DbSession,
    principal: SignedIn,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    notice: str | None = None,
) -> Response:
    may_configure = Perm.CONFIG_WRITE in principal.permissions()
    rules = (await list_rules(session, principal, PageRequest(limit=200), None, None)).items
    alerts = (await manage.list_alerts(session, principal, PageRequest(limit=50))).items
    volume = await manage.alert_volume(session, principal, 30)
    names = {rule.id: rule.name for rule in rules}
    error_code = request.query_params.get("error")
    context = {
        "rules": rules,
        "alerts": [
            {"alert": alert, "unit_code": code, "rule_name": names.get(alert.rule_id, "")}
            for alert, code in alerts
        ],
        "volume_total": sum(row["alerts"] for row in volume),
        "volume_with_case": sum(row["with_case"] for row in volume),
        "may_configure": may_configure,
        "presets": [(key, label) for key, (label, _d) in PRESETS.items()],
        "kind_labels": KIND_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "form": form or {"name": "", "preset": "detractor", "definition": ""},
        "errors": errors or [],
        "page_error": ERRORS.get(error_code or ""),
        "notice": notice,
    }
    return render(request, "alerts/index.html", context, status=status, principal=principal)


@router.get("/alerts")
async def alerts_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    return await _page(request, session, principal)


@router.post("/alerts/rules")
async def create_rule_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return see_other("/alerts?error=csrf_failed")
    if Perm.CONFIG_WRITE not in principal.permissions():
        return see_other("/alerts?error=forbidden")
    name = str(form.get("name") or "").strip()[:200]
    preset = str(form.get("preset") or "")[:20]
    raw_text = str(form.get("definition") or "").strip()
    values = {"name": name, "preset": preset, "definition": raw_text[:20000]}
    errors: list[dict[str, str]] = []
    definition: Any = None
    if not name:
        errors.append({"path": "name", "message": N_("Give the rule a name.")})
    if raw_text:
        try:
            definition = parse_form_json(raw_text)
        except ValueError:
            errors.append({"path": "definition", "message": N_("The definition is not valid JSON.")})
    elif preset in PRESETS:
        definition = PRESETS[preset][1]
    else:
        errors.append({"path": "definition", "message": N_("Choose a preset or write a definition.")})
    if not errors:
        try:
            await create_rule(session, principal, name, definition, True)
        except ValidationFailed as exc:
            errors = [{"path": e.path, "message": e.message} for e in exc.errors] or [
                {"path": "definition", "message": exc.detail}
            ]
    if errors:
        return await _page(request, session, principal, status=422, form=values, errors=errors)
    return see_other("/alerts")


@router.post("/alerts/rules/{rule_id}/{action}")
async def toggle_rule_page(
    rule_id: str, action: str, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return see_other("/alerts?error=csrf_failed")
    if action not in ("enable", "disable"):
        return see_other("/alerts")
    if Perm.CONFIG_WRITE not in principal.permissions():
        return see_other("/alerts?error=forbidden")
    await update_rule(session, principal, rule_id[:26], name=None, raw=None, enabled=action == "enable")
    return see_other("/alerts")
