"""Cases as the API and the inbox show them, built for many at once (one
query for their units, one for their people)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases import timeline
from cxloop.cases.actions import may
from cxloop.cases.models import Case
from cxloop.cases.service import now_or
from cxloop.cases.states import NEW, OPEN_STATUSES, transitions_from
from cxloop.collection import Response
from cxloop.identity import Perm, Principal, Unit, User, display_name


def due_at(case: Case) -> datetime | None:
    if case.status == NEW:
        return case.ack_due_at
    return case.resolve_due_at if case.status in OPEN_STATUSES else None


async def case_views(
    session: AsyncSession, principal: Principal, cases: Sequence[Case], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    at = now_or(now)
    unit_ids = {c.unit_id for c in cases if c.unit_id}
    user_ids = {u for c in cases for u in (c.owner_id, c.escalated_to_id) if u}
    units: dict[str, Unit] = {}
    if unit_ids:
        units = {
            u.id: u for u in (await session.execute(select(Unit).where(Unit.id.in_(unit_ids)))).scalars()
        }
    names: dict[str, str] = {}
    if user_ids:
        rows = await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
        names = {user_id: name for user_id, name in rows}

    def person(user_id: str | None) -> dict[str, str] | None:
        return None if user_id is None else {"id": user_id, "name": names.get(user_id, "?")}

    views = []
    for case in cases:
        unit = units.get(case.unit_id) if case.unit_id else None
        due = due_at(case)
        views.append(
            {
                "id": case.id,
                "number": case.number,
                "title": case.title,
                "status": case.status,
                "priority": case.priority,
                "source": case.source,
                "unit_code": unit.code if unit else None,
                "unit_name": display_name(unit.names, principal.locale) if unit else None,
                "owner": person(case.owner_id),
                "escalated_to": person(case.escalated_to_id),
                "escalation_level": case.escalation_level,
                "response_id": case.response_id,
                "contact_id": case.contact_id,
                "rule_id": case.rule_id,
                "root_cause_code": case.root_cause_code,
                "tags": list(case.tags),
                "initial_score": case.initial_score,
                "later_score": case.later_score,
                "created_at": case.created_at,
                "updated_at": case.updated_at,
                "acknowledged_at": case.acknowledged_at,
                "resolved_at": case.resolved_at,
                "closed_at": case.closed_at,
                "ack_due_at": case.ack_due_at,
                "resolve_due_at": case.resolve_due_at,
                "due_at": due,
                "overdue": due is not None and due < at,
                "allowed_transitions": [
                    t.target for t in transitions_from(case.status) if may(principal, case, unit, t.who)
                ],
            }
        )
    return views


async def case_detail(
    session: AsyncSession, principal: Principal, case: Case, *, now: datetime | None = None
) -> dict[str, Any]:
    (view,) = await case_views(session, principal, [case], now=now)
    # Internal notes are for the people who work cases, not read-only roles.
    show_internal = principal.can(Perm.CASES_WORK)
    view["timeline"] = [
        {
            "id": e.id,
            "at": e.at,
            "kind": e.kind,
            "actor_user_id": e.actor_user_id,
            "actor": e.actor_label,
            "from_value": e.from_value,
            "to_value": e.to_value,
            "body": e.body,
            "internal": e.internal,
            "details": e.details,
        }
        for e in await timeline.entries(session, case.id)
        if show_internal or not e.internal
    ]
    response = None
    if case.response_id is not None:
        row = await session.get(Response, case.response_id)
        if row is not None and row.tenant_id == case.tenant_id:
            response = {
                "id": row.id,
                "survey_id": row.survey_id,
                "channel": row.channel,
                "language": row.language,
                "submitted_at": row.submitted_at,
                "answers": row.answers,
                "embedded": row.embedded,
            }
    view["response"] = response
    view["follow_up_invitation_id"] = case.follow_up_invitation_id
    return view
