"""Demo dashboards: a regional manager's weekly dashboard shared with East
China's stores, and report schedules (the store manager weekly as PDF, the
executive daily as Excel), all through the dashboards services."""

from __future__ import annotations

from cxloop.dashboards.reports import create_schedule, principal_for_user
from cxloop.dashboards.schemas import DashboardCreate, ScheduleCreate
from cxloop.dashboards.service import create_dashboard
from cxloop.demo.registry import SeedContext, seed_step

DEFINITION = {
    "filters": {"period": "90d"},
    "widgets": [
        {
            "id": "nps",
            "type": "kpi",
            "title": {"zh-CN": "华东 NPS", "en": "East NPS"},
            "query": {"metrics": ["nps"], "compare": "company"},
            "sparkline": "week",
            "position": {"x": 0, "y": 0, "w": 4, "h": 2},
        },
        {
            "id": "csat",
            "type": "kpi",
            "title": {"zh-CN": "满意度", "en": "CSAT"},
            "query": {"metrics": ["csat"], "compare": "previous_period"},
            "sparkline": "week",
            "position": {"x": 4, "y": 0, "w": 4, "h": 2},
        },
        {
            "id": "rate",
            "type": "kpi",
            "title": {"zh-CN": "回复数", "en": "Responses"},
            "query": {"metrics": ["response_count"], "compare": "previous_period"},
            "position": {"x": 8, "y": 0, "w": 4, "h": 2},
        },
        {
            "id": "stores",
            "type": "ranking",
            "title": {"zh-CN": "门店排名", "en": "Stores ranked"},
            "query": {"metrics": ["nps"], "group_by": ["unit_level:3"], "compare": "company"},
            "drill": True,
            "position": {"x": 0, "y": 2, "w": 6, "h": 6},
        },
        {
            "id": "weekly",
            "type": "trend",
            "title": {"zh-CN": "每周趋势", "en": "Weekly trend"},
            "query": {"metrics": ["nps", "csat"], "group_by": ["week"]},
            "position": {"x": 6, "y": 2, "w": 6, "h": 3},
        },
        {
            "id": "cities",
            "type": "heatmap",
            "title": {"zh-CN": "各城市月度 NPS", "en": "NPS by city and month"},
            "query": {"metrics": ["nps"], "group_by": ["unit_level:2", "month"]},
            "drill": True,
            "position": {"x": 6, "y": 5, "w": 6, "h": 3},
        },
        {
            "id": "comments",
            "type": "comments",
            "title": {"zh-CN": "最新评论", "en": "Latest comments"},
            "comments": {"limit": 15},
            "position": {"x": 0, "y": 8, "w": 12, "h": 4},
        },
    ],
}


@seed_step("dashboards", order=70)
async def seed_dashboards(ctx: SeedContext) -> None:
    """A shared regional dashboard and three scheduled email reports."""
    people = {email.split("@")[0]: user for email, user in ctx.users.items()}
    east, cx = people.get("east.manager"), people.get("cx")
    if east is None or cx is None:
        return
    await create_dashboard(
        ctx.session,
        await principal_for_user(ctx.session, east),
        DashboardCreate.model_validate({"name": "华东门店周报", "definition": DEFINITION, "shared": True}),
    )
    scheduler = await principal_for_user(ctx.session, cx)
    for local, frequency, fmt in (
        ("store.sh001", "weekly", "pdf"),
        ("ceo", "daily", "xlsx"),
        ("east.manager", "monthly", "pdf"),
    ):
        person = people.get(local)
        if person is not None:
            await create_schedule(
                ctx.session,
                scheduler,
                ScheduleCreate(recipient_email=person.email, frequency=frequency, format=fmt, hour_utc=0),
            )
