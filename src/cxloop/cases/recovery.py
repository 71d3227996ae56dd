"""Recovery: the same customer's next score after a case was resolved.

A collection pipeline subscriber. A follow-up survey carries the case id in
its embedded fields, which links the answer to its case directly; any other
later response is linked through the contact (customers resolves the
response's contact before this subscriber runs). The recovery rate is then
"detractor cases whose later score is 7 or more" over "detractor cases with
a later score" (reported by ``cases.report``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case
from cxloop.cases.service import response_score
from cxloop.cases.states import CLOSED, RESOLVED
from cxloop.collection import Response, subscribe
from cxloop.customers import contact_ids_for_responses


async def _case_for(session: AsyncSession, response: Response) -> Case | None:
    embedded = response.embedded if isinstance(response.embedded, dict) else {}
    case_id = embedded.get("case_id")
    if isinstance(case_id, str) and len(case_id) <= 64:
        case = await session.get(Case, case_id)
        if case is not None and case.tenant_id == response.tenant_id:
            return case
    contacts = await contact_ids_for_responses(session, response.tenant_id, [response.id])
    contact_id = contacts.get(response.id)
    if contact_id is None:
        return None
    found = await session.execute(
        select(Case)
        .where(
            Case.tenant_id == response.tenant_id,
            Case.contact_id == contact_id,
            Case.status.in_((RESOLVED, CLOSED)),
            Case.resolved_at <= response.submitted_at,
            Case.later_score.is_(None),
        )
        .order_by(Case.resolved_at.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


@subscribe("cases.recovery")
async def record_later_score(session: AsyncSession, response_id: str, payload: dict[str, Any]) -> None:
    response = await session.get(Response, response_id)
    if response is None or response.status != "complete":
        return
    case = await _case_for(session, response)
    if case is None or case.response_id == response.id or case.later_response_id is not None:
        return
    score = await response_score(session, response)
    if score is None:
        return
    case.later_score = score
    case.later_response_id = response.id
