"""Demo alerts: the detractor and complaint-word rules, a weekly NPS-drop metric rule, and
the alerts those response rules would have fired on recent responses (linked to the demo
cases where the cases step opened one), so /alerts has something to show. Bounded (at most
``MAX_ALERTS``, from the newest ``SCANNED`` responses) so the demo stays fast; nothing is sent.
"""

from __future__ import annotations

from sqlalchemy import select

from cxloop.alerts.actions import fire
from cxloop.alerts.models import AlertRule
from cxloop.alerts.responses import subject_for, summary_for
from cxloop.alerts.rules import Actions, parse_rule
from cxloop.alerts.service import bump_config, compile_rows, tenant_config
from cxloop.cases import Case
from cxloop.collection import Response
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.identity import Unit
from cxloop.kit.ids import new_id

MAX_ALERTS = 200
SCANNED = 3000
RULES = (
    (
        "贬损者开工单 Detractor opens a case",
        {
            "kind": "response",
            "condition": {"source": "answers", "field": "nps", "op": "le", "value": 6},
            "priority": "high",
            "actions": {"open_case": {"dedupe_days": 7}, "notify": [{"to": "unit_manager"}]},
        },
    ),
    (
        "投诉用语 Complaint words",
        {
            "kind": "response",
            "condition": {"words": {}},
            "priority": "urgent",
            "actions": {"open_case": {}, "notify": [{"to": "unit_manager"}]},
        },
    ),
    (
        "门店 NPS 周环比下降 Store NPS weekly drop",
        {
            "kind": "metric",
            "metric": "nps",
            "question": "nps",
            "unit": "",
            "level": None,
            "window_days": 7,
            "min_n": 20,
            "when": {"drop_by": 15},
        },
    ),
)


async def seed_alerts(ctx: SeedContext) -> None:
    """Alert rules and the alerts they fired on recent responses."""
    session, tenant = ctx.session, ctx.tenant
    stores = ctx.units_of_kind("store")
    roots = sorted((u for u in ctx.units.values() if u.parent_id is None), key=lambda u: u.code)
    for name, raw in RULES:
        definition = dict(raw)
        if definition["kind"] == "metric":
            if not roots:
                continue
            definition["unit"] = roots[0].code
            definition["level"] = stores[0].depth if stores else None
        parsed = parse_rule(definition)
        session.add(
            AlertRule(
                id=new_id(),
                tenant_id=tenant.id,
                name=name,
                kind=parsed.kind,
                enabled=True,
                definition=parsed.model_dump(mode="json", by_alias=True),
                version=1,
                created_by=None,
                created_at=ctx.now,
                updated_at=ctx.now,
            )
        )
    await bump_config(session, tenant.id)
    config = await tenant_config(session, tenant.id)
    rows = (await session.execute(select(AlertRule).where(AlertRule.tenant_id == tenant.id))).scalars().all()
    compiled = {c.id: c for c in await compile_rows(session, tenant.id, list(rows))}
    recent = await session.execute(
        select(Response)
        .where(Response.tenant_id == tenant.id, Response.status == "complete")
        .order_by(Response.submitted_at.desc())
        .limit(SCANNED)
    )
    cases = dict(
        (await session.execute(select(Case.response_id, Case.id).where(Case.tenant_id == tenant.id))).all()
    )
    fired = 0
    for response in recent.scalars():
        if fired >= MAX_ALERTS:
            break
        subject, contact_id = await subject_for(session, config, response)
        unit = await session.get(Unit, response.unit_id) if response.unit_id else None
        for rule in compiled.values():
            if not rule.matches(subject):
                continue
            alert = await fire(
                session,
                tenant_id=tenant.id,
                rule_id=rule.id,
                rule_version=rule.version,
                kind="response",
                subject_key=response.id,
                title=rule.name,
                priority=rule.rule.priority,
                summary=summary_for(rule, response, unit),
                actions=Actions(),  # the demo sends nothing and leaves the cases step's cases alone
                unit_id=response.unit_id,
                response_id=response.id,
                contact_id=contact_id,
                webhook_ids=[],
                now=response.submitted_at,
            )
            if alert is not None:
                case_id = cases.get(response.id)
                if case_id is not None:
                    alert.case_id = case_id
                    alert.summary = {**alert.summary, "link": f"/cases/{case_id}"}
                fired += 1


seed_step("alerts", order=65)(seed_alerts)
