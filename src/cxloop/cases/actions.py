"""What people do to a case: transitions, comments and notes, assignment,
priority / root cause / tags, and bulk versions of them.

Every action checks who may do it (the table in ``states``), writes the
timeline and queues a case event; none commits. Out of the caller's read
reach: 404 like a missing case; visible but not theirs to act on: 403; not
allowed from the current state: 409.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases import events, timeline
from cxloop.cases.models import Case, RootCause
from cxloop.cases.schemas import printable
from cxloop.cases.service import _unit, get_case, now_or, set_deadlines
from cxloop.cases.states import (
    ACKNOWLEDGED,
    CLOSED,
    IN_PROGRESS,
    NEW,
    OPEN_STATUSES,
    PRIORITIES,
    RESOLVED,
    STATUSES,
    Transition,
    find_transition,
)
from cxloop.collection import Response
from cxloop.identity import Membership, Perm, Principal, Role, Unit, User
from cxloop.kit.errors import Conflict, Forbidden, invalid

FOLLOW_UP_CHANNELS = frozenset({"email", "sms", "wechat", "wecom"})
MAX_TAGS, MAX_TAG = 20, 40


def _check_text(path: str, text: str | None) -> None:
    """Refuse what the API's schemas refuse: control characters other than new
    lines and tabs (NUL cannot be stored in PostgreSQL), here for the pages too."""
    if text is not None:
        try:
            printable(text)
        except ValueError as exc:
            raise invalid(
                path,
                "Text may not contain control characters (a comment may have new lines).",
                code="invalid_text",
            ) from exc


def _label(principal: Principal) -> str:
    return principal.name or principal.label


def _require_worker(principal: Principal, case: Case, unit: Unit | None) -> None:
    principal.require(Perm.CASES_WORK)
    reach = principal.reach(Perm.CASES_WORK)
    if not reach.everywhere and not (unit is not None and reach.covers(unit.id, unit.path)):
        raise Forbidden("You cannot work cases of this unit.", code="permission_denied")
    if principal.roles == {Role.AGENT} and case.owner_id not in (None, principal.user_id):
        raise Forbidden("This case is assigned to somebody else.", code="not_case_owner")


def _require_manager(principal: Principal, unit: Unit | None) -> None:
    principal.require(Perm.CASES_WORK)
    principal.require(Perm.DATA_WRITE)
    reach = principal.reach(Perm.DATA_WRITE)
    if not reach.everywhere and not (unit is not None and reach.covers(unit.id, unit.path)):
        raise Forbidden("Only a manager of this unit may do this.", code="permission_denied")


def may(principal: Principal, case: Case, unit: Unit | None, who: str) -> bool:
    """Whether the caller may make a transition of kind ``who`` (for the inbox)."""
    try:
        if who == "manager":
            _require_manager(principal, unit)
        else:
            _require_worker(principal, case, unit)
    except Forbidden:
        return False
    return True


async def _follow_up(
    session: AsyncSession, case: Case, survey_id: str, at: datetime, principal: Principal
) -> None:
    """Send the customer a short survey about how the case was handled.

    Distribution is looked up when used: it is a lower layer, but built in
    parallel, and a missing sender must not stop a case from resolving.
    """
    if case.contact_id is None:
        timeline.add(session, case, "follow_up", at=at, label="system", details={"skipped": "no_contact"})
        return
    distribution = importlib.import_module("cxloop.distribution")
    send = getattr(distribution, "send_survey", None)
    if send is None:
        timeline.add(session, case, "follow_up", at=at, label="system", details={"skipped": "unavailable"})
        return
    channel: str | None = None
    if case.response_id is not None:
        response = await session.get(Response, case.response_id)
        if response is not None and response.channel in FOLLOW_UP_CHANNELS:
            channel = response.channel
    invitation_id = await send(
        session,
        case.tenant_id,
        case.contact_id,
        survey_id,
        channel=channel,
        reason="case_follow_up",
        embedded={"case_id": case.id, "case_number": str(case.number)},
        respect_frequency=False,
    )
    case.follow_up_invitation_id = invitation_id
    timeline.add(
        session,
        case,
        "follow_up",
        at=at,
        user_id=principal.user_id,
        label=_label(principal),
        # None: distribution skipped the send (its invitation row says why).
        details={"survey_id": survey_id, "invitation_id": invitation_id, "channel": channel}
        | ({} if invitation_id else {"skipped": "not_sent"}),
    )


async def transition(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    to: str,
    *,
    comment: str | None = None,
    follow_up_survey_id: str | None = None,
    now: datetime | None = None,
) -> Case:
    case = await get_case(session, principal, case_id)
    _check_text("comment", comment)
    if to not in STATUSES:
        raise invalid("to", f"A case state is one of {', '.join(STATUSES)}.")
    unit = await _unit(session, case.tenant_id, case.unit_id)
    step = find_transition(case.status, to)
    if step is None:
        raise Conflict(
            f"A case cannot go from {case.status} to {to}.",
            code="transition_not_allowed",
        )
    if step.who == "manager":
        _require_manager(principal, unit)
    else:
        _require_worker(principal, case, unit)
    if follow_up_survey_id is not None and to != RESOLVED:
        raise invalid("follow_up_survey_id", "A follow-up survey is sent on resolving only.")
    at = now_or(now)
    await _apply(session, case, step, unit, at)
    timeline.add(
        session,
        case,
        "transition",
        at=at,
        user_id=principal.user_id,
        label=_label(principal),
        from_value=step.source,
        to_value=step.target,
        body=comment,
        details={"action": step.action},
    )
    if follow_up_survey_id is not None:
        await _follow_up(session, case, follow_up_survey_id, at, principal)
    await session.flush()
    if to == RESOLVED:
        events.emit(session, events.CASE_RESOLVED, case, change=step.action)
    else:
        events.emit(session, events.CASE_UPDATED, case, change=step.action)
    return case


async def _apply(
    session: AsyncSession, case: Case, step: Transition, unit: Unit | None, at: datetime
) -> None:
    case.status = step.target
    case.updated_at = at
    if step.target in (ACKNOWLEDGED, IN_PROGRESS) and case.acknowledged_at is None:
        case.acknowledged_at = at
    if step.source == NEW and case.resolve_due_at is not None:
        # The acknowledge deadline is met; the resolve deadline is what the job watches now.
        later = case.next_escalation_at or case.resolve_due_at
        case.next_escalation_at = max(case.resolve_due_at, later)
    if step.target == RESOLVED:
        case.resolved_at = at
        case.next_escalation_at = None
    elif step.target == CLOSED:
        case.closed_at = at
        case.next_escalation_at = None
    elif step.action == "reopen":
        # A reopened case gets a fresh resolve deadline from now.
        case.resolved_at = None
        case.closed_at = None
        await set_deadlines(session, case, unit, at)


async def add_comment(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    body: str,
    *,
    internal: bool,
    now: datetime | None = None,
) -> Any:
    case = await get_case(session, principal, case_id)
    unit = await _unit(session, case.tenant_id, case.unit_id)
    principal.require(Perm.CASES_WORK)
    if not principal.reach(Perm.CASES_WORK).covers(unit.id if unit else None, unit.path if unit else None):
        raise Forbidden("You cannot work cases of this unit.", code="permission_denied")
    text = body.strip()
    if not text:
        raise invalid("body", "A comment needs some text.")
    _check_text("body", text)
    at = now_or(now)
    entry = timeline.add(
        session,
        case,
        "note" if internal else "comment",
        at=at,
        user_id=principal.user_id,
        label=_label(principal),
        body=text,
        internal=internal,
    )
    case.updated_at = at
    await session.flush()
    events.emit(session, events.CASE_UPDATED, case, change="note" if internal else "comment")
    return entry


async def eligible_owner(session: AsyncSession, tenant_id: str, user_id: str, unit: Unit | None) -> bool:
    """Whether this user may work cases of ``unit`` (by their memberships)."""
    user = await session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id or not user.is_active:
        return False
    rows = await session.execute(
        select(Membership.role, Unit.id, Unit.path)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(Membership.user_id == user_id)
    )
    for role, unit_id, path in rows:
        if role in (Role.ADMIN, Role.CX_MANAGER):
            return True
        if unit is None:
            continue
        if role == Role.UNIT_MANAGER and path is not None and unit.path.startswith(path):
            return True
        if role == Role.AGENT and unit_id == unit.id:
            return True
    return False


async def assign(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    owner_id: str | None,
    *,
    comment: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Reassign (managers), or take an unowned case for oneself (any worker)."""
    case = await get_case(session, principal, case_id)
    _check_text("comment", comment)
    unit = await _unit(session, case.tenant_id, case.unit_id)
    taking = owner_id is not None and owner_id == principal.user_id and case.owner_id is None
    if taking:
        _require_worker(principal, case, unit)
    else:
        _require_manager(principal, unit)
    if case.status not in OPEN_STATUSES and case.status != RESOLVED:
        raise Conflict("A closed case is not reassigned; reopen it first.", code="case_closed")
    if owner_id is not None and not await eligible_owner(session, case.tenant_id, owner_id, unit):
        raise invalid(
            "owner_id", "This user cannot work cases of the case's unit.", code="owner_not_eligible"
        )
    if owner_id == case.owner_id:
        return case
    at = now_or(now)
    previous = case.owner_id
    case.owner_id = owner_id
    case.updated_at = at
    timeline.add(
        session,
        case,
        "assigned",
        at=at,
        user_id=principal.user_id,
        label=_label(principal),
        from_value=previous,
        to_value=owner_id,
        body=comment,
    )
    await session.flush()
    events.emit(session, events.CASE_ASSIGNED, case, previous_owner_id=previous)
    return case


async def update_case(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    changes: dict[str, Any],
    *,
    now: datetime | None = None,
) -> Case:
    """Change priority (deadlines follow), the root cause or the tags."""
    case = await get_case(session, principal, case_id)
    unit = await _unit(session, case.tenant_id, case.unit_id)
    _require_worker(principal, case, unit)
    at = now_or(now)
    changed: list[str] = []
    if "priority" in changes and changes["priority"] != case.priority:
        priority = changes["priority"]
        if priority not in PRIORITIES:
            raise invalid("priority", f"Priority is one of {', '.join(PRIORITIES)}.")
        timeline.add(
            session, case, "priority", at=at, user_id=principal.user_id, label=_label(principal),
            from_value=case.priority, to_value=priority,
        )  # fmt: skip
        case.priority = priority
        if case.status in OPEN_STATUSES:
            await set_deadlines(session, case, unit, case.created_at)
        changed.append("priority")
    if "root_cause_code" in changes and changes["root_cause_code"] != case.root_cause_code:
        code = changes["root_cause_code"]
        if code is not None:
            known = await session.scalar(
                select(RootCause.id).where(
                    RootCause.tenant_id == case.tenant_id, RootCause.code == code, RootCause.active.is_(True)
                )
            )
            if known is None:
                raise invalid("root_cause_code", f"No active root cause {code!r}.", code="unknown_root_cause")
        timeline.add(
            session, case, "root_cause", at=at, user_id=principal.user_id, label=_label(principal),
            from_value=case.root_cause_code, to_value=code,
        )  # fmt: skip
        case.root_cause_code = code
        changed.append("root_cause")
    if "tags" in changes:
        tags = clean_tags(changes["tags"])
        if tags != case.tags:
            timeline.add(
                session, case, "tags", at=at, user_id=principal.user_id, label=_label(principal),
                details={"from": case.tags, "to": tags},
            )  # fmt: skip
            case.tags = tags
            changed.append("tags")
    if changed:
        case.updated_at = at
        await session.flush()
        events.emit(session, events.CASE_UPDATED, case, change=",".join(changed))
    return case


def clean_tags(raw: Any) -> list[str]:
    if not isinstance(raw, list) or len(raw) > MAX_TAGS:
        raise invalid("tags", f"Give at most {MAX_TAGS} tags.")
    tags: list[str] = []
    for index, tag in enumerate(raw):
        if not isinstance(tag, str) or not 1 <= len(tag.strip()) <= MAX_TAG:
            raise invalid(f"tags[{index}]", f"A tag has 1 to {MAX_TAG} characters.")
        if not tag.strip().isprintable():
            raise invalid(f"tags[{index}]", "A tag may not contain control characters.", code="invalid_text")
        if tag.strip() not in tags:
            tags.append(tag.strip())
    return tags


async def create_manual(
    session: AsyncSession,
    principal: Principal,
    *,
    title: str,
    priority: str,
    unit_code: str,
    response_id: str | None,
    contact_id: str | None,
    owner_id: str | None,
    comment: str | None,
    now: datetime | None = None,
) -> Case:
    """A case somebody opens by hand (a phone complaint, a walk-in)."""
    from cxloop.cases.service import open_case
    from cxloop.identity import visible_unit

    principal.require(Perm.CASES_WORK)
    _check_text("title", title)
    _check_text("comment", comment)
    unit = await visible_unit(session, principal, unit_code, Perm.CASES_WORK)
    if response_id is not None:
        response = await session.get(Response, response_id)
        if response is None or response.tenant_id != principal.tenant_id:
            raise invalid("response_id", "No such response.", code="unknown_response")
    if owner_id is not None and not await eligible_owner(session, principal.tenant_id, owner_id, unit):
        raise invalid("owner_id", "This user cannot work cases of this unit.", code="owner_not_eligible")
    case_id, created = await open_case(
        session,
        principal.tenant_id,
        response_id=response_id,
        contact_id=contact_id,
        unit_id=unit.id,
        priority=priority,
        title=title,
        source="manual",
        now=now,
        actor_user_id=principal.user_id,
        actor_label=_label(principal),
        owner_id=owner_id,
    )
    if not created:
        raise Conflict("This response has a case already.", code="case_exists")
    case = await session.get(Case, case_id)
    assert case is not None  # just flushed in this session
    if comment:
        timeline.add(
            session, case, "comment", at=now_or(now), user_id=principal.user_id, label=_label(principal),
            body=comment.strip(),
        )  # fmt: skip
    return case
