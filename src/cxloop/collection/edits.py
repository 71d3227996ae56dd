"""Audited edits of a stored response. Never commits.

A complete response changes only here: the changed answers are merged into
the sheet, the whole sheet is checked again against the survey version it
answered, and in the same transaction a ``ResponseRevision`` keeps the
answers before and after, the audit log names who and why (ids and the
reason only, never answers), and a ``collection.response_edited`` job tells
later consumers. A refused edit leaves none of these behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import edit_tasks
from cxloop.collection.models import Response, ResponseRevision
from cxloop.collection.schemas import ResponseOut
from cxloop.collection.service import to_out
from cxloop.collection.validation import answered, check_answers
from cxloop.identity import Actor, AuditAction, Perm, Principal, Unit, record
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, ValidationFailed, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.surveys import published_definition

COMPLETE = "complete"


@dataclass(frozen=True)
class Edited:
    response: ResponseOut
    revision: ResponseRevision | None  # None: the edit changed nothing


def _within(principal: Principal, perm: Perm, response_id: str) -> Any:
    principal.require(perm)
    if len(response_id) > 26:
        raise not_found("response")
    reach = principal.reach(perm)
    return (
        select(Response, Unit.code)
        .outerjoin(Unit, Unit.id == Response.unit_id)
        .where(
            Response.id == response_id,
            Response.tenant_id == principal.tenant_id,
            reach.unit_clause(Unit.id, Unit.path),
        )
    )


def editor_id(principal: Principal) -> str:
    """The person when there is one, else the service token, else the CLI's label."""
    return principal.user_id or principal.token_id or principal.label[:26]


async def edit_response(
    session: AsyncSession, principal: Principal, response_id: str, changes: dict[str, Any], reason: str
) -> Edited:
    """Apply ``changes`` (question id -> new answer; null or empty clears it) for ``reason``."""
    # The row is locked (PostgreSQL) so that two edits cannot both take the same revision number.
    statement = _within(principal, Perm.DATA_WRITE, response_id).with_for_update(of=Response)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise not_found("response")
    response, unit_code = row[0], row[1]
    if response.status != COMPLETE:
        raise Conflict(
            "Only a complete response can be edited; this one is still being answered.",
            code="response_not_complete",
        )
    current: dict[str, Any] = dict(response.answers or {})
    merged = dict(current)
    for question_id, value in changes.items():
        if answered(value):
            merged[question_id] = value
        else:
            merged.pop(question_id, None)
    definition = await published_definition(session, response.survey_id, response.survey_version)
    if definition is None:
        raise not_found("response")
    errors = check_answers(definition, merged, response.embedded or {}, response.contact_ref or {})
    if errors:
        raise ValidationFailed("The edited response is not valid; see errors.", errors=errors)
    changed = [question_id for question_id in changes if current.get(question_id) != merged.get(question_id)]
    if not changed:
        return Edited(to_out(response, unit_code), None)
    now = utc_now()
    number = response.revision + 1
    revision = ResponseRevision(
        id=new_id(),
        tenant_id=response.tenant_id,
        response_id=response.id,
        revision=number,
        edited_at=now,
        edited_by=editor_id(principal),
        reason=reason,
        before={question_id: current.get(question_id) for question_id in changed},
        after={question_id: merged.get(question_id) for question_id in changed},
    )
    response.answers = merged
    response.revision = number
    response.updated_at = now
    session.add(revision)
    record(
        session,
        Actor.of(principal),
        AuditAction.RESPONSE_EDITED,
        target_type="response",
        target_id=response.id,
        details={"survey_id": response.survey_id, "revision": number, "questions": changed, "reason": reason},
    )
    enqueue(
        session,
        edit_tasks.RESPONSE_EDITED,
        {
            "response_id": response.id,
            "survey_id": response.survey_id,
            "tenant_id": response.tenant_id,
            "revision": number,
        },
    )
    await session.flush()
    return Edited(to_out(response, unit_code), revision)


async def list_revisions(
    session: AsyncSession, principal: Principal, response_id: str, page: PageRequest
) -> Page[ResponseRevision]:
    """The edits of a response within the caller's DATA_READ reach, oldest first."""
    if (await session.execute(_within(principal, Perm.DATA_READ, response_id))).one_or_none() is None:
        raise not_found("response")
    statement = select(ResponseRevision).where(
        ResponseRevision.response_id == response_id, ResponseRevision.tenant_id == principal.tenant_id
    )
    keyed = apply_keyset(statement, ResponseRevision.id, "revisions", page)
    revisions = (await session.execute(keyed)).scalars().all()
    return make_page(revisions, "revisions", page, lambda revision: revision.id)
