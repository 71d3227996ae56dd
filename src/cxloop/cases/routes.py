"""The cases API: the inbox's lists and details, transitions, comments,
assignment, bulk actions, manual creation, reporting and configuration
(root causes, SLA policies, business calendars)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from cxloop.cases import actions, config
from cxloop.cases.report import case_report
from cxloop.cases.schemas import (
    AssignmentIn,
    BulkIn,
    BulkOut,
    CalendarIn,
    CaseDetailOut,
    CaseIn,
    CaseOut,
    CasePage,
    CasePatch,
    CommentIn,
    EntryOut,
    Priority,
    RootCauseIn,
    RootCausePatch,
    SlaPolicyIn,
    TransitionIn,
)
from cxloop.cases.service import CaseFilter, get_case, list_cases
from cxloop.cases.views import case_detail, case_views
from cxloop.identity import CurrentPrincipal
from cxloop.kit.errors import AppError, invalid
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

router = APIRouter(prefix="/api/v1", tags=["cases"], route_class=TransactionalRoute)

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
Code = Annotated[str | None, Query(min_length=1, max_length=64)]
When = Annotated[AwareDatetime | None, Query()]
StatusFilter = Literal["new", "acknowledged", "in_progress", "resolved", "closed", "open"]


@router.get("/cases", response_model=CasePage, summary="Cases within the caller's reach")
async def get_cases(
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    mine: bool = False,
    unit: Code = None,
    status: StatusFilter | None = None,
    overdue: bool = False,
    priority: Priority | None = None,
) -> dict[str, Any]:
    where = CaseFilter(mine=mine, unit_code=unit, status=status, overdue=overdue, priority=priority)
    page = await list_cases(session, principal, where, PageRequest(limit=limit, cursor=cursor))
    return {"items": await case_views(session, principal, page.items), "next_cursor": page.next_cursor}


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseDetailOut,
    summary="Open a case by hand",
    responses={200: {"model": CaseDetailOut, "description": "Replayed by Idempotency-Key"}},
)
async def post_case(
    request: Request, body: CaseIn, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        case = await actions.create_manual(session, principal, **body.model_dump())
        await session.flush()
        view = await case_detail(session, principal, case)
        return CaseDetailOut.model_validate(view).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.get(
    "/cases/report", summary="Case volume, time to acknowledge and resolve, SLA, recovery, root causes"
)
async def get_report(
    session: DbSession,
    principal: CurrentPrincipal,
    unit: Code = None,
    opened_from: When = None,
    opened_to: When = None,
) -> dict[str, Any]:
    return await case_report(session, principal, unit_code=unit, opened_from=opened_from, opened_to=opened_to)


@router.post("/cases/bulk", response_model=BulkOut, summary="Assign or transition several cases")
async def post_bulk(body: BulkIn, session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    if body.action == "transition" and body.to is None:
        raise invalid("to", "A bulk transition needs the target state.")
    results: list[dict[str, Any]] = []
    for case_id in dict.fromkeys(body.ids):
        try:
            # Each case on its own: one refusal does not undo the others.
            async with session.begin_nested():
                if body.action == "assign":
                    await actions.assign(session, principal, case_id, body.owner_id, comment=body.comment)
                else:
                    assert body.to is not None
                    await actions.transition(session, principal, case_id, body.to, comment=body.comment)
        except AppError as error:
            results.append({"id": case_id, "status": error.status, "code": error.code})
        else:
            results.append({"id": case_id, "status": 200, "code": None})
    return {"results": results}


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="One case with its timeline")
async def get_one_case(case_id: str, session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return await case_detail(session, principal, await get_case(session, principal, case_id))


@router.patch("/cases/{case_id}", response_model=CaseOut, summary="Change priority, root cause or tags")
async def patch_case(
    case_id: str, body: CasePatch, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    case = await actions.update_case(session, principal, case_id, body.model_dump(exclude_unset=True))
    (view,) = await case_views(session, principal, [case])
    return view


@router.post(
    "/cases/{case_id}/transitions",
    response_model=CaseDetailOut,
    summary="Move a case to another state (409 when not allowed from the current one)",
)
async def post_transition(
    case_id: str, body: TransitionIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    parsed = body
    case = await actions.transition(
        session,
        principal,
        case_id,
        parsed.to,
        comment=parsed.comment,
        follow_up_survey_id=parsed.follow_up_survey_id,
    )
    return await case_detail(session, principal, case)


@router.post(
    "/cases/{case_id}/comments", status_code=201, response_model=EntryOut, summary="Comment or internal note"
)
async def post_comment(
    case_id: str, body: CommentIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    entry = await actions.add_comment(session, principal, case_id, body.body, internal=body.internal)
    return {
        "id": entry.id,
        "at": entry.at,
        "kind": entry.kind,
        "actor_user_id": entry.actor_user_id,
        "actor": entry.actor_label,
        "from_value": None,
        "to_value": None,
        "body": entry.body,
        "internal": entry.internal,
        "details": entry.details,
    }


@router.post(
    "/cases/{case_id}/assignment", response_model=CaseOut, summary="Reassign, or take an unowned case"
)
async def post_assignment(
    case_id: str, body: AssignmentIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    case = await actions.assign(session, principal, case_id, body.owner_id, comment=body.comment)
    (view,) = await case_views(session, principal, [case])
    return view


# --- configuration ----------------------------------------------------------


@router.get("/case-root-causes", summary="The root-cause tree")
async def get_root_causes(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": config.root_cause_tree(await config.list_root_causes(session, principal))}


@router.post("/case-root-causes", status_code=201, summary="Add a root cause")
async def post_root_cause(
    body: RootCauseIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    row = await config.create_root_cause(session, principal, body.code, body.names, body.parent_code)
    return {"code": row.code, "names": row.names, "parent_code": row.parent_code, "active": row.active}


@router.patch("/case-root-causes/{code}", summary="Rename, move or retire a root cause")
async def patch_root_cause(
    code: str, body: RootCausePatch, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    row = await config.update_root_cause(session, principal, code, body.model_dump(exclude_unset=True))
    return {"code": row.code, "names": row.names, "parent_code": row.parent_code, "active": row.active}


@router.get("/case-sla-policies", summary="SLA policies per priority (defaults where none is set)")
async def get_policies(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": await config.list_policies(session, principal)}


@router.put("/case-sla-policies/{priority}", summary="Set the SLA policy of one priority")
async def put_policy(
    priority: str, body: SlaPolicyIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await config.put_policy(session, principal, priority, body.model_dump())


@router.get("/case-calendar", summary="The tenant's business calendar")
async def get_tenant_calendar(session: DbSession, principal: CurrentPrincipal) -> dict[str, Any]:
    return await config.get_calendar(session, principal, None)


@router.put("/case-calendar", summary="Set the tenant's business calendar")
async def put_tenant_calendar(
    body: CalendarIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await config.put_calendar(session, principal, None, body.model_dump())


@router.get("/case-calendars/{unit_code}", summary="A unit's business calendar")
async def get_unit_calendar(
    unit_code: str, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await config.get_calendar(session, principal, unit_code)


@router.put("/case-calendars/{unit_code}", summary="Set a unit's business calendar (applies to its subtree)")
async def put_unit_calendar(
    unit_code: str, body: CalendarIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await config.put_calendar(session, principal, unit_code, body.model_dump())
