"""Demo cases: opening hours, a root-cause tree, and cases for recent
detractors of the demo surveys, in every state (some overdue, some
escalated, some recovered), so the inbox and the report have something to
show. Bounded (at most ``MAX_CASES``) so the demo stays fast.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cxloop.cases import timeline
from cxloop.cases.models import BusinessCalendar, Case, RootCause
from cxloop.cases.service import open_case
from cxloop.cases.states import ACKNOWLEDGED, CLOSED, IN_PROGRESS, NEW, RESOLVED
from cxloop.collection import Response
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.kit.ids import new_id

MAX_CASES = 150
SCANNED = 4000
ROOT_CAUSES = (
    ("service", None, "服务", "Service"),
    ("service.attitude", "service", "服务态度", "Staff attitude"),
    ("service.waiting", "service", "排队等候", "Waiting time"),
    ("product", None, "商品", "Product"),
    ("product.freshness", "product", "新鲜度", "Freshness"),
    ("product.stock", "product", "缺货", "Out of stock"),
    ("store", None, "门店环境", "Store environment"),
    ("store.clean", "store", "卫生", "Cleanliness"),
    ("price", None, "价格", "Price"),
    ("price.promotion", "price", "促销不符", "Promotion not honoured"),
)
LEAVES = [code for code, parent, _, _ in ROOT_CAUSES if parent]
STORE_HOURS = {day: [["09:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def seed_cases(ctx: SeedContext) -> None:
    """Cases for recent detractors, opening hours and root causes."""
    session, tenant, rng = ctx.session, ctx.tenant, ctx.rng
    session.add(
        BusinessCalendar(
            id=new_id(),
            tenant_id=tenant.id,
            unit_id=None,
            hours=STORE_HOURS,
            holidays=["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08"],
            workdays=[],
            updated_at=ctx.now,
        )
    )
    for code, parent, zh, en in ROOT_CAUSES:
        session.add(
            RootCause(
                id=new_id(),
                tenant_id=tenant.id,
                code=code,
                parent_code=parent,
                names={"zh-CN": zh, "en": en},
                active=True,
                created_at=ctx.now,
            )
        )
    await session.flush()
    recent = await session.execute(
        select(Response)
        .where(Response.tenant_id == tenant.id, Response.status == "complete")
        .order_by(Response.submitted_at.desc())
        .limit(SCANNED)
    )
    detractors = [
        r
        for r in recent.scalars()
        if isinstance(r.answers, dict) and isinstance(r.answers.get("nps"), int) and r.answers["nps"] <= 6
    ][:MAX_CASES]
    for response in detractors:
        opened = response.submitted_at + timedelta(minutes=rng.randint(1, 5))
        case_id, created = await open_case(
            session,
            tenant.id,
            response_id=response.id,
            contact_id=None,
            unit_id=response.unit_id,
            priority="high" if response.answers["nps"] <= 3 else "normal",
            title=f"NPS {response.answers['nps']}",
            source="alert",
            now=opened,
        )
        if not created:
            continue
        case = await session.get(Case, case_id)
        assert case is not None
        _progress(ctx, case)
    await session.flush()


def _progress(ctx: SeedContext, case: Case) -> None:
    """Walk an older case through its states at plausible times."""
    rng, now = ctx.rng, ctx.now
    age = now - case.created_at
    if age < timedelta(hours=2) or rng.random() < 0.1:
        return  # still new (and, past its deadline, overdue)
    steps = [ACKNOWLEDGED, IN_PROGRESS]
    if age > timedelta(days=1):
        steps.append(RESOLVED)
    if age > timedelta(days=5) and rng.random() < 0.7:
        steps.append(CLOSED)
    at = case.created_at
    previous = NEW
    for step in steps:
        at = at + timedelta(minutes=rng.randint(10, 400))
        if at > now:
            break
        timeline.add(ctx.session, case, "transition", at=at, label="demo", from_value=previous, to_value=step)
        case.status, previous, case.updated_at = step, step, at
        if step == ACKNOWLEDGED:
            case.acknowledged_at = at
            case.next_escalation_at = case.resolve_due_at
        elif step == RESOLVED:
            case.resolved_at, case.next_escalation_at = at, None
            case.root_cause_code = rng.choice(LEAVES)
            if case.initial_score is not None and rng.random() < 0.4:
                case.later_score = rng.choice((5, 6, 7, 8, 9, 9, 10))
        elif step == CLOSED:
            case.closed_at = at


seed_step("cases", order=60)(seed_cases)
