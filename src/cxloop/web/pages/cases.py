"""Pages of the cases domain: the inbox (mine, my units, overdue) with bulk
actions, and a case's page (the response, SLA countdown, actions, comments,
timeline). Usable on a phone; the pages call the same services as the API,
so scope and the transition rules are the same.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases import actions, config
from cxloop.cases.report import case_report
from cxloop.cases.service import CaseFilter, get_case, list_cases
from cxloop.cases.states import STATUSES
from cxloop.cases.views import case_detail, case_views
from cxloop.collection import Response as StoredResponse
from cxloop.identity import Membership, Perm, Principal, Role, Unit, User, display_name
from cxloop.kit import clock
from cxloop.kit.errors import AppError
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import PageRequest
from cxloop.surveys import published_definition, text_in
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

VIEWS = {"mine": N_("Mine"), "units": N_("My units"), "overdue": N_("Overdue")}
STATUS_LABELS = {
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
PRIORITY_LABELS = {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")}
# The button that moves a case to each state.
ACTION_LABELS = {
    "acknowledged": N_("Acknowledge"),
    "in_progress": N_("Start work"),
    "resolved": N_("Resolve"),
    "closed": N_("Close"),
}
REOPEN_LABEL = N_("Reopen")
ENTRY_LABELS = {
    "created": N_("Case opened"),
    "assigned": N_("Assigned"),
    "transition": N_("Status changed"),
    "comment": N_("Comment"),
    "note": N_("Internal note"),
    "escalated": N_("Escalated"),
    "escalation_exhausted": N_("No one left to escalate to"),
    "alert_attached": N_("Another alert for this customer"),
    "priority": N_("Priority changed"),
    "root_cause": N_("Root cause set"),
    "tags": N_("Tags changed"),
    "follow_up": N_("Follow-up survey"),
}
ERRORS = {
    "transition_not_allowed": N_("That step is not possible from the case's current status."),
    "permission_denied": N_("Your role does not allow this action."),
    "not_case_owner": N_("This case is assigned to somebody else."),
    "owner_not_eligible": N_("That person cannot work cases of this unit."),
    "case_closed": N_("A closed case is not reassigned; reopen it first."),
    "validation_failed": N_("Some values are not valid."),
    "invalid_text": N_("Text may not contain control characters (a comment may have new lines)."),
    "unknown_root_cause": N_("That root cause is not in use."),
    "csrf_failed": N_("The form has expired. Go back, reload the page and try again."),
}
NOTICES = {"saved": N_("Saved."), "bulk": N_("%(done)s of %(total)s cases changed.")}


def sla(item: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """What the countdown shows: hours and minutes left, or over."""
    due = item["due_at"]
    if due is None:
        return None
    minutes = int((due - now).total_seconds() // 60)
    left = abs(minutes)
    return {"overdue": minutes < 0, "hours": left // 60, "minutes": left % 60, "due": due.isoformat()}


def _error_code(value: str | None) -> str | None:
    return value if value in ERRORS else None


async def assignable_people(session: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    """(id, name) of the people who work cases in the caller's units."""
    reach = principal.reach(Perm.DATA_WRITE)
    query = (
        select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(User.tenant_id == principal.tenant_id, User.is_active.is_(True))
        .where(Membership.role.in_([Role.AGENT.value, Role.UNIT_MANAGER.value, Role.CX_MANAGER.value]))
    )
    if not reach.everywhere:
        query = query.where(reach.unit_clause(Unit.id, Unit.path))
    rows = (await session.execute(query.order_by(User.name, User.id))).all()
    return list(dict.fromkeys((user_id, name) for user_id, name in rows))


@router.get("/cases")
async def inbox(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    params = request.query_params
    view = params.get("view") if params.get("view") in VIEWS else "mine"
    status = params.get("status") if params.get("status") in (*STATUSES, "open") else "open"
    cursor = (params.get("cursor") or "")[:500] or None
    where = CaseFilter(mine=view == "mine", overdue=view == "overdue", status=status)
    try:
        page = await list_cases(session, principal, where, PageRequest(limit=50, cursor=cursor))
    except AppError as error:
        if error.status >= 500:
            raise
        return see_other(f"/cases?view={view}")
    now = clock.utc_now()
    items = await case_views(session, principal, page.items, now=now)
    for item in items:
        item["sla"] = sla(item, now)
    works = principal.can(Perm.CASES_WORK)
    manages = works and principal.can(Perm.DATA_WRITE)
    done, total = params.get("done"), params.get("total")
    context = {
        "view": view,
        "views": VIEWS,
        "status": status,
        "statuses": STATUSES,
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "items": items,
        "next_cursor": page.next_cursor,
        "can_work": works,
        "people": await assignable_people(session, principal) if manages else [],
        "bulk_notice": {"done": done, "total": total} if done and total else None,
        "error": ERRORS.get(_error_code(params.get("error")) or ""),
    }
    return render(request, "cases/inbox.html", context, principal=principal)


@router.get("/cases/report")
async def report_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    """The case report within the caller's reach, optionally for one unit's subtree."""
    unit = (request.query_params.get("unit") or "").strip()[:64] or None
    error = None
    try:
        report = await case_report(session, principal, unit_code=unit)
    except AppError as exc:
        if exc.status >= 500 or exc.status == 403:
            raise
        error, unit = N_("No unit with that code in your scope."), None
        report = await case_report(session, principal)
    context = {
        "report": report,
        "unit": unit or "",
        "error": error,
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
    }
    return render(request, "cases/report.html", context, principal=principal)


def _answer_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


async def _answers(session: AsyncSession, case: dict[str, Any], locale: str) -> list[tuple[str, str]]:
    """(question text, answer) in the survey's order, for the answers given."""
    response = case["response"]
    if response is None or not isinstance(response["answers"], dict):
        return []
    stored = await session.get(StoredResponse, response["id"])
    definition = (
        await published_definition(session, stored.survey_id, stored.survey_version)
        if stored is not None
        else None
    )
    answers: dict[str, Any] = response["answers"]
    if definition is None:
        return [(key, _answer_text(value)) for key, value in answers.items()]
    shown: list[tuple[str, str]] = []
    for _, question in definition.questions():
        if question.id in answers:
            text = text_in(question.text, locale, definition.default_language)
            shown.append((text, _answer_text(answers[question.id])))
    return shown


@router.get("/cases/{case_id}")
async def case_page(case_id: str, request: Request, session: DbSession, principal: SignedIn) -> Response:
    case = await get_case(session, principal, case_id)
    now = clock.utc_now()
    detail = await case_detail(session, principal, case, now=now)
    detail["sla"] = sla(detail, now)
    locale = getattr(request.state, "locale", None) or principal.locale or "zh-CN"
    works = principal.can(Perm.CASES_WORK)
    manages = works and principal.can(Perm.DATA_WRITE)
    names: dict[str, str] = {}
    ids = {
        e["to_value"] for e in detail["timeline"] if e["kind"] in ("assigned", "escalated") and e["to_value"]
    }
    ids |= {
        e["from_value"]
        for e in detail["timeline"]
        if e["kind"] in ("assigned", "escalated") and e["from_value"]
    }
    if ids:
        rows = await session.execute(select(User.id, User.name).where(User.id.in_(ids)))
        names = {user_id: name for user_id, name in rows}
    context = {
        "case": detail,
        "answers": await _answers(session, detail, locale),
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "action_labels": ACTION_LABELS,
        "reopen_label": REOPEN_LABEL,
        "entry_labels": ENTRY_LABELS,
        "people_names": names,
        "can_work": works,
        "people": await assignable_people(session, principal) if manages else [],
        "can_take": works and detail["owner"] is None,
        "root_causes": [
            (row.code, display_name(row.names, locale))
            for row in await config.list_root_causes(session, principal)
            if row.active or row.code == detail["root_cause_code"]
        ],
        "notice": NOTICES["saved"] if request.query_params.get("saved") == "1" else None,
        "error": ERRORS.get(_error_code(request.query_params.get("error")) or ""),
    }
    return render(request, "cases/detail.html", context, principal=principal)


async def _attempt(session: AsyncSession, work: Any) -> str | None:
    """Run one action in a savepoint; the refusal's code, or None when done."""
    try:
        async with session.begin_nested():
            await work()
    except AppError as error:
        if error.status >= 500:
            raise
        return error.code if error.code in ERRORS else "validation_failed"
    return None


def _text(form: Any, name: str, limit: int = 10_000) -> str | None:
    value = form.get(name)
    return value.strip()[:limit] or None if isinstance(value, str) else None


@router.post("/cases/{case_id}/act")
async def act(case_id: str, request: Request, session: DbSession, principal: SignedIn) -> Response:
    """One form for a case's actions: move it, comment, assign, take it."""
    form = await request.form()
    if not form_csrf_ok(request, form):
        return see_other(f"/cases/{case_id[:64]}?error=csrf_failed")
    case = await get_case(session, principal, case_id)
    action = _text(form, "action", 20)
    comment = _text(form, "comment")

    async def work() -> None:
        if action == "transition":
            await actions.transition(
                session, principal, case.id, _text(form, "to", 20) or "", comment=comment
            )
        elif action == "comment":
            await actions.add_comment(
                session, principal, case.id, comment or "", internal=form.get("internal") == "1"
            )
        elif action == "assign":
            await actions.assign(session, principal, case.id, _text(form, "owner_id", 64), comment=comment)
        elif action == "take":
            await actions.assign(session, principal, case.id, principal.user_id)
        elif action == "classify":
            tags = [
                t.strip()
                for t in (_text(form, "tags", 1000) or "").replace("，", ",").split(",")
                if t.strip()
            ]
            changes = {"root_cause_code": _text(form, "root_cause_code", 64), "tags": tags}
            await actions.update_case(session, principal, case.id, changes)
        else:
            await actions.transition(session, principal, case.id, "", comment=None)

    code = await _attempt(session, work)
    return see_other(f"/cases/{case.id}?" + (f"error={code}" if code else "saved=1"))


@router.post("/cases/bulk")
async def bulk(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    view = _text(form, "view", 20) or "mine"
    view = view if view in VIEWS else "mine"
    if not form_csrf_ok(request, form):
        return see_other(f"/cases?view={view}&error=csrf_failed")
    ids = [value for value in form.getlist("ids") if isinstance(value, str) and 0 < len(value) <= 64][:100]
    action = _text(form, "action", 20)
    owner_id = _text(form, "owner_id", 64)
    done = 0
    for case_id in dict.fromkeys(ids):

        async def work(case_id: str = case_id) -> None:
            if action == "assign":
                await actions.assign(session, principal, case_id, owner_id)
            elif action == "take":
                await actions.assign(session, principal, case_id, principal.user_id)
            else:
                await actions.transition(session, principal, case_id, "acknowledged")

        if await _attempt(session, work) is None:
            done += 1
    return see_other(f"/cases?view={view}&done={done}&total={len(set(ids))}")
