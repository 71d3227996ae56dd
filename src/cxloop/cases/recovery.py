"""Recovery: the same customer's next score after a case was resolved.

A collection pipeline subscriber. A follow-up survey carries the case id in
its embedded fields, which links the answer to its case directly; any other
later response is linked through the contact (customers resolves the
response's contact before this subscriber runs). The recovery rate is then
"detractor cases whose later score is 7 or more" over "detractor cases with
a later score" (reported by ``cases.report``).

A case keeps the contact id it was opened for; when that contact has since
been merged into another, the survivor's later answers still count for it
(a merge keeps all of a contact's history). That also keeps a set-based batch
equal to answer-by-answer handling when a later response of the same batch
merges the contact of an earlier one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case
from cxloop.cases.service import response_score, with_merged
from cxloop.cases.states import CLOSED, RESOLVED
from cxloop.collection import Response, subscribe_batch
from cxloop.customers import contact_ids_for_responses


def _named_case_id(response: Response) -> str | None:
    embedded = response.embedded if isinstance(response.embedded, dict) else {}
    case_id = embedded.get("case_id")
    return case_id if isinstance(case_id, str) and len(case_id) <= 64 else None


async def _candidates(
    session: AsyncSession, tenant_id: str, responses: list[Response]
) -> tuple[dict[str, str], dict[str, list[Case]]]:
    """The batch's contacts ({response id: contact id}) and each contact's resolved
    cases still without a later score (its own and those of contacts merged into
    it), latest resolution first: three queries per tenant and batch."""
    contacts = await contact_ids_for_responses(session, tenant_id, [r.id for r in responses])
    if not contacts:
        return contacts, {}
    owner = await with_merged(session, tenant_id, sorted(set(contacts.values())))
    found = await session.execute(
        select(Case)
        .where(
            Case.tenant_id == tenant_id,
            Case.contact_id.in_(sorted(owner)),
            Case.status.in_((RESOLVED, CLOSED)),
            Case.later_score.is_(None),
        )
        .order_by(Case.resolved_at.desc(), Case.id)
    )
    by_contact: dict[str, list[Case]] = {}
    for case in found.scalars():
        if case.contact_id is not None:
            by_contact.setdefault(owner[case.contact_id], []).append(case)
    return contacts, by_contact


def _latest_resolved_before(cases: list[Case], response: Response) -> Case | None:
    # As the per-response query did: resolved by the time of the answer, no later score yet
    # (an earlier response of the same batch may have just given it one).
    for case in cases:
        if (
            case.later_score is None
            and case.resolved_at is not None
            and case.resolved_at <= response.submitted_at
        ):
            return case
    return None


@subscribe_batch("cases.recovery")
async def record_later_scores(session: AsyncSession, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Set-based over the pipeline's batch: the named cases in one query, the contacts'
    candidate cases in two per tenant, then each response in order."""
    responses: list[Response] = []
    for response_id, _payload in items:
        response = await session.get(Response, response_id)  # preloaded by the pipeline
        if response is not None and response.status == "complete":
            responses.append(response)
    if not responses:
        return
    named_ids = sorted({case_id for r in responses if (case_id := _named_case_id(r)) is not None})
    named: dict[str, Case] = {}
    if named_ids:
        found = await session.execute(select(Case).where(Case.id.in_(named_ids)))
        named = {case.id: case for case in found.scalars()}
    by_tenant: dict[str, list[Response]] = {}
    for response in responses:
        case_id = _named_case_id(response)
        case = named.get(case_id) if case_id is not None else None
        if case is None or case.tenant_id != response.tenant_id:
            by_tenant.setdefault(response.tenant_id, []).append(response)
    contacts: dict[str, str] = {}
    candidates: dict[tuple[str, str], list[Case]] = {}
    for tenant_id, theirs in by_tenant.items():
        linked, by_contact = await _candidates(session, tenant_id, theirs)
        contacts.update(linked)
        candidates.update({(tenant_id, contact): cases for contact, cases in by_contact.items()})
    for response in responses:
        case_id = _named_case_id(response)
        case = named.get(case_id) if case_id is not None else None
        if case is None or case.tenant_id != response.tenant_id:
            contact_id = contacts.get(response.id)
            if contact_id is None:
                continue
            case = _latest_resolved_before(candidates.get((response.tenant_id, contact_id), []), response)
        if case is None or case.response_id == response.id or case.later_response_id is not None:
            continue
        score = await response_score(session, response)
        if score is None:
            continue
        case.later_score = score
        case.later_response_id = response.id
