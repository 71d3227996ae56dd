"""Opening cases and finding them within the caller's reach.

``open_case`` is the entry other domains use (alerts); it never commits.
Scope (ADR 0005): a case is seen by a principal whose reach covers its unit;
one out of reach is answered exactly like a missing one (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases import events, timeline
from cxloop.cases.assignment import pick_owner
from cxloop.cases.models import Case, CaseCounter
from cxloop.cases.sla import calendar_for, due, policy_for
from cxloop.cases.states import NEW, OPEN_STATUSES, PRIORITIES
from cxloop.collection import Response
from cxloop.customers import Contact
from cxloop.identity import Perm, Principal, Tenant, Unit, get_unit_by_code
from cxloop.kit import clock
from cxloop.kit.errors import invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.surveys import published_definition

MAX_TITLE = 300


def now_or(now: datetime | None) -> datetime:
    """The injected instant, else the clock (read through the module, so a
    test that replaces ``cxloop.kit.clock.utc_now`` moves every case)."""
    return now if now is not None else clock.utc_now()


async def _lock_numbering(session: AsyncSession, tenant_id: str) -> None:
    """Hold the tenant's counter row until commit: openers of one tenant take
    turns from here, so the checks below see every committed case (PostgreSQL,
    read committed; SQLite writers take turns anyway) and numbers have no gaps.
    """
    locked = select(CaseCounter.value).where(CaseCounter.tenant_id == tenant_id).with_for_update()
    if (await session.execute(locked)).first() is not None:
        return
    try:
        async with session.begin_nested():
            session.add(CaseCounter(tenant_id=tenant_id, value=0))
    except IntegrityError:
        # A concurrent first case of the tenant created the row: wait for it.
        await session.execute(locked)


async def _next_number(session: AsyncSession, tenant_id: str) -> int:
    result = await session.execute(
        update(CaseCounter)
        .where(CaseCounter.tenant_id == tenant_id)
        .values(value=CaseCounter.value + 1)
        .returning(CaseCounter.value)
    )
    return int(result.scalar_one())


async def response_score(session: AsyncSession, response: Response) -> int | None:
    """The response's NPS answer (0-10), if its survey asks one."""
    definition = await published_definition(session, response.survey_id, response.survey_version)
    if definition is None or not isinstance(response.answers, dict):
        return None
    for _, question in definition.questions():
        if question.type == "nps":
            value = response.answers.get(question.id)
            return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


async def _unit(session: AsyncSession, tenant_id: str, unit_id: str | None) -> Unit | None:
    if unit_id is None:
        return None
    unit = await session.get(Unit, unit_id)
    return unit if unit is not None and unit.tenant_id == tenant_id else None


async def set_deadlines(session: AsyncSession, case: Case, unit: Unit | None, start: datetime) -> None:
    """Acknowledge and resolve deadlines from ``start`` under the case's policy."""
    tenant = await session.get(Tenant, case.tenant_id)
    calendar = await calendar_for(session, case.tenant_id, unit, tenant.timezone if tenant else "UTC")
    policy = await policy_for(session, case.tenant_id, case.priority)
    if case.status == NEW:
        case.ack_due_at = due(start, policy.acknowledge_minutes, calendar, policy)
    case.resolve_due_at = due(start, policy.resolve_minutes, calendar, policy)
    case.next_escalation_at = case.ack_due_at if case.status == NEW else case.resolve_due_at


async def with_merged(session: AsyncSession, tenant_id: str, contact_ids: list[str]) -> dict[str, str]:
    """{contact id: the given contact it now belongs to}: each given contact and those merged
    into it. A case keeps the contact id it was opened for, while a merge moves the contact's
    responses to the survivor; this lets the survivor's answers and alerts find those cases.
    One query: a merge points every contact it folded, however long ago, at the survivor."""
    owner = {contact_id: contact_id for contact_id in contact_ids}
    if contact_ids:
        folded = await session.execute(
            select(Contact.id, Contact.merged_into).where(
                Contact.tenant_id == tenant_id, Contact.merged_into.in_(sorted(owner))
            )
        )
        for merged_id, survivor_id in folded.all():
            owner[str(merged_id)] = str(survivor_id)
    return owner


async def open_case(
    session: AsyncSession,
    tenant_id: str,
    *,
    response_id: str | None,
    contact_id: str | None,
    unit_id: str | None,
    priority: str,
    title: str,
    source: str,
    rule_id: str | None = None,
    dedupe_days: int | None = None,
    now: datetime | None = None,
    actor_user_id: str | None = None,
    actor_label: str | None = None,
    owner_id: str | None = None,
) -> tuple[str, bool]:
    """Open a case, or return the one that already covers this alert.

    One case per response: a second call for the same response returns the
    existing case. With ``dedupe_days``, an open case of the same contact
    opened within that many days takes the alert as a timeline entry.
    """
    if priority not in PRIORITIES:
        raise invalid("priority", f"Priority is one of {', '.join(PRIORITIES)}.")
    title = title.strip()[:MAX_TITLE] or "Case"
    at = now_or(now)
    await _lock_numbering(session, tenant_id)
    if response_id is not None:
        existing = await session.scalar(
            select(Case.id).where(Case.tenant_id == tenant_id, Case.response_id == response_id)
        )
        if existing is not None:
            return existing, False
    if dedupe_days is not None and contact_id is not None:
        open_one = (
            await session.execute(
                select(Case)
                .where(
                    Case.tenant_id == tenant_id,
                    Case.contact_id.in_(sorted(await with_merged(session, tenant_id, [contact_id]))),
                    Case.status.in_(OPEN_STATUSES),
                    Case.created_at >= at - timedelta(days=dedupe_days),
                )
                .order_by(Case.created_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if open_one is not None:
            timeline.add(
                session,
                open_one,
                "alert_attached",
                at=at,
                details={"response_id": response_id, "rule_id": rule_id, "title": title, "source": source},
            )
            open_one.updated_at = at
            events.emit(session, events.CASE_UPDATED, open_one, change="alert_attached")
            return open_one.id, False
    unit = await _unit(session, tenant_id, unit_id)
    score: int | None = None
    if response_id is not None:
        response = await session.get(Response, response_id)
        if response is not None and response.tenant_id == tenant_id:
            score = await response_score(session, response)
            if unit is None:
                unit = await _unit(session, tenant_id, response.unit_id)
    case = Case(
        id=new_id(),
        tenant_id=tenant_id,
        number=await _next_number(session, tenant_id),
        title=title,
        status=NEW,
        priority=priority,
        source=source,
        unit_id=unit.id if unit else None,
        owner_id=owner_id,
        escalation_level=0,
        response_id=response_id,
        contact_id=contact_id,
        rule_id=rule_id,
        tags=[],
        initial_score=score,
        created_at=at,
        updated_at=at,
    )
    if case.owner_id is None:
        case.owner_id = await pick_owner(session, tenant_id, unit)
    await set_deadlines(session, case, unit, at)
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending first.
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        # Another job opened the case for this response meanwhile.
        if response_id is None:
            raise
        existing = await session.scalar(
            select(Case.id).where(Case.tenant_id == tenant_id, Case.response_id == response_id)
        )
        if existing is None:
            raise
        return existing, False
    timeline.add(
        session,
        case,
        "created",
        at=at,
        user_id=actor_user_id,
        label=actor_label or source,
        to_value=NEW,
        details={"source": source, "rule_id": rule_id, "response_id": response_id},
    )
    if case.owner_id is not None:
        timeline.add(session, case, "assigned", at=at, label="auto", to_value=case.owner_id)
    events.emit(session, events.CASE_CREATED, case)
    return case.id, True


# --- reading within reach ---------------------------------------------------


def reach_clause(principal: Principal, perm: Perm) -> ColumnElement[bool]:
    reach = principal.reach(perm)
    clause = reach.unit_clause(Unit.id, Unit.path)
    return and_(Case.tenant_id == principal.tenant_id, clause)


def scoped(principal: Principal, perm: Perm = Perm.DATA_READ) -> Any:
    """``SELECT cases`` joined to their unit and limited to the caller's reach."""
    reach = principal.reach(perm)
    query = select(Case).where(Case.tenant_id == principal.tenant_id)
    if reach.everywhere:
        return query.outerjoin(Unit, Unit.id == Case.unit_id)
    return query.join(Unit, Unit.id == Case.unit_id).where(reach.unit_clause(Unit.id, Unit.path))


async def get_case(
    session: AsyncSession, principal: Principal, case_id: str, perm: Perm = Perm.DATA_READ
) -> Case:
    if len(case_id) > 64:
        raise not_found("case")
    case: Case | None = (
        await session.execute(scoped(principal, perm).where(Case.id == case_id))
    ).scalar_one_or_none()
    if case is None:
        raise not_found("case")
    return case


@dataclass(frozen=True)
class CaseFilter:
    mine: bool = False
    unit_code: str | None = None
    status: str | None = None  # one status, or "open"
    overdue: bool = False
    priority: str | None = None


def overdue_clause(at: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Case.status == NEW, Case.ack_due_at < at),
        and_(Case.status.in_(OPEN_STATUSES), Case.resolve_due_at < at),
    )


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    where: CaseFilter,
    page: PageRequest,
    *,
    now: datetime | None = None,
) -> Page[Case]:
    query = scoped(principal)
    if where.mine:
        query = query.where(
            or_(Case.owner_id == principal.user_id, Case.escalated_to_id == principal.user_id)
            if principal.user_id
            else Case.id.is_(None)
        )
    if where.unit_code is not None:
        unit = await get_unit_by_code(session, principal.tenant_id, where.unit_code)
        if unit is None or not principal.reach(Perm.DATA_READ).covers(unit.id, unit.path):
            raise not_found("unit")
        query = query.where(Unit.path.startswith(unit.path))
    if where.status == "open":
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif where.status is not None:
        query = query.where(Case.status == where.status)
    if where.priority is not None:
        query = query.where(Case.priority == where.priority)
    if where.overdue:
        query = query.where(overdue_clause(now_or(now)))
    query = apply_keyset(query, Case.id, "cases", page, descending=True)
    rows = (await session.execute(query)).scalars().all()
    return make_page(rows, "cases", page, lambda c: c.id)


async def count_open_cases(session: AsyncSession, principal: Principal, unit_code: str | None = None) -> int:
    """Open cases the principal can see, optionally under one unit."""
    inner = scoped(principal).where(Case.status.in_(OPEN_STATUSES))
    if unit_code is not None:
        unit = await get_unit_by_code(session, principal.tenant_id, unit_code)
        if unit is None or not principal.reach(Perm.DATA_READ).covers(unit.id, unit.path):
            return 0
        inner = inner.where(Unit.path.startswith(unit.path))
    total = await session.scalar(
        select(func.count()).select_from(inner.with_only_columns(Case.id).subquery())
    )
    return int(total or 0)
