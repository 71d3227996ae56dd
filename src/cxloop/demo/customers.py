"""Demo step ``customers``: 300 members of the chain with identities (encrypted),
home stores, tiers and tags, a consent ledger, order events, the purchase
journey, event types, three segments, and links from recent demo responses
to contacts so that "detractors in the last 90 days" has members.

Everything goes through the customers services (upsert, consent, events) and
is drawn from the step's own generator, so two demo databases agree.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from cxloop.collection.models import Response
from cxloop.customers.attributes import define
from cxloop.customers.consent import record_consent
from cxloop.customers.events import register_event_type
from cxloop.customers.journeys import save_journey
from cxloop.customers.models import ContactEvent, ContactResponse
from cxloop.customers.schemas import JourneyIn
from cxloop.customers.segments import SegmentFilter, save_segment
from cxloop.customers.service import upsert_contact
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.kit.ids import new_id

CONTACTS = 300
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "丽",
    "强",
]
EVENT_TYPES = {
    "order_placed": "An order was placed (app, mini-program or store)",
    "order_delivered": "An order reached the customer",
    "support_ticket_closed": "A support request was closed",
}
PURCHASE = {
    "key": "purchase",
    "name": {"zh-CN": "购买旅程", "en": "Purchase journey"},
    "stages": [
        {"key": "browse", "name": {"zh-CN": "浏览", "en": "Browse"}, "touchpoints": [{"key": "app_browse"}]},
        {"key": "order", "name": {"zh-CN": "下单", "en": "Order"}, "touchpoints": [{"key": "checkout"}]},
        {
            "key": "delivery",
            "name": {"zh-CN": "配送", "en": "Delivery"},
            "touchpoints": [{"key": "delivery"}],
        },
        {
            "key": "after_sales",
            "name": {"zh-CN": "售后", "en": "After-sales"},
            "touchpoints": [{"key": "support"}],
        },
        {"key": "store", "name": {"zh-CN": "门店", "en": "Store"}, "touchpoints": [{"key": "store_visit"}]},
    ],
}


@seed_step("customers", order=40)
async def seed_customers(ctx: SeedContext) -> None:
    """300 contacts with identities, consent, events, a journey and segments."""
    session, rng, tenant_id = ctx.session, ctx.rng, ctx.tenant.id
    stores = ctx.units_of_kind("store")
    await define(session, tenant_id, "tier", "text", {"zh-CN": "会员等级", "en": "Tier"})
    await define(
        session, tenant_id, "orders_12m", "number", {"zh-CN": "近12个月订单数", "en": "Orders, 12 months"}
    )
    await define(session, tenant_id, "member_since", "date", {"zh-CN": "入会日期", "en": "Member since"})
    for name, description in EVENT_TYPES.items():
        await register_event_type(session, tenant_id, name, description)
    await save_journey(session, tenant_id, JourneyIn.model_validate(PURCHASE))
    contact_ids: list[str] = []
    for n in range(CONTACTS):
        store = stores[n % len(stores)] if stores else None
        tier = rng.choices(["gold", "silver", "bronze"], weights=[1, 3, 6])[0]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        identities = {"member_id": f"FN{100000 + n}", "phone": f"+86139{rng.randrange(10**8):08d}"}
        if rng.random() < 0.6:
            identities["email"] = f"member{n}@example.com"
        if rng.random() < 0.5:
            identities["wechat_openid"] = f"oDemo{n:06d}{rng.randrange(10**6):06d}"
        since = ctx.now.date() - timedelta(days=rng.randrange(30, 2000))
        contact_id = await upsert_contact(
            session,
            tenant_id,
            identities,
            attributes={"tier": tier, "orders_12m": rng.randrange(0, 40), "member_since": since.isoformat()},
            language="en" if rng.random() < 0.1 else "zh-CN",
            timezone="Asia/Shanghai",
            unit_id=store.id if store else None,
            source="demo",
            name=name,
            first_name=name[1:],
            tags=(["vip"] if tier == "gold" else []) + (["app_user"] if rng.random() < 0.4 else []),
        )
        contact_ids.append(contact_id)
        await record_consent(
            session, tenant_id, contact_id, "email", "survey", True, source="signup", policy_version="2025-01"
        )
        if rng.random() < 0.08:
            await record_consent(session, tenant_id, contact_id, "sms", "survey", False, source="sms_stop")
    # Order events of the last 60 days, written as history (no subscribers: nothing should be sent for them).
    events = []
    for n in range(CONTACTS * 2):
        contact_id = rng.choice(contact_ids)
        when = ctx.now - timedelta(days=rng.random() * 60)
        for kind in ("order_placed", "order_delivered"):
            events.append(
                {
                    "id": new_id(),
                    "tenant_id": tenant_id,
                    "external_id": f"demo-{n}-{kind}",
                    "type": kind,
                    "occurred_at": when
                    + (timedelta(hours=rng.randrange(2, 48)) if kind == "order_delivered" else timedelta()),
                    "received_at": ctx.now,
                    "contact_id": contact_id,
                    "unit_id": None,
                    "attributes": {"order_no": f"D{n:06d}", "amount": round(rng.uniform(20, 600), 2)},
                }
            )
    await session.execute(insert(ContactEvent), events)
    # Recent demo responses, given to contacts, so response-history segments have members.
    recent = await session.execute(
        select(Response.id, Response.survey_id, Response.submitted_at)
        .where(Response.tenant_id == tenant_id, Response.status == "complete")
        .order_by(Response.submitted_at.desc())
        .limit(CONTACTS * 2)
    )
    links = [
        {
            "response_id": rid,
            "tenant_id": tenant_id,
            "contact_id": rng.choice(contact_ids),
            "survey_id": sid,
            "submitted_at": at,
        }
        for rid, sid, at in recent.all()
    ]
    if links:
        await session.execute(insert(ContactResponse), links)
    segments = {
        "VIP 会员 (VIPs)": {"conditions": [{"tag": "vip"}]},
        "华东 VIP (VIPs of East)": {"conditions": [{"tag": "vip"}, {"unit_code": "EAST"}]},
        "近90天贬损者 (Detractors, 90 days)": {
            "conditions": [{"response": {"question_id": "nps", "op": "lte", "value": 6, "within_days": 90}}]
        },
    }
    for name, where in segments.items():
        await save_segment(session, tenant_id, name, SegmentFilter.model_validate(where))
