"""Default dashboards by role, for people who have not saved one of their own.

The role is read from the viewer's grants: tenant-wide roles get the
executive view, analysts free exploration, and unit managers and agents the
regional view when their unit has children, the store view when it has none.
Every query still runs as the viewer, so a default never shows more than
their scope; the defaults only choose what is worth looking at there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.dashboards.schemas import DashboardDefinition, RoleDefault
from cxloop.identity import Grant, Principal, Role, Unit

ROLE_NAMES: dict[str, dict[str, str]] = {
    "executive": {"en": "Company overview", "zh-CN": "公司总览"},
    "regional": {"en": "My region", "zh-CN": "我的区域"},
    "store": {"en": "My store", "zh-CN": "我的门店"},
    "analyst": {"en": "Exploration", "zh-CN": "自由分析"},
}


def _w(
    widget_id: str,
    kind: str,
    en: str,
    zh: str,
    position: tuple[int, int, int, int],
    query: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = position
    widget: dict[str, Any] = {
        "id": widget_id,
        "type": kind,
        "title": {"en": en, "zh-CN": zh},
        "position": {"x": x, "y": y, "w": w, "h": h},
        **extra,
    }
    if query is not None:
        widget["query"] = query
    return widget


def _kpi(widget_id: str, metric: str, en: str, zh: str, x: int, compare: str, **extra: Any) -> dict[str, Any]:
    return _w(
        widget_id,
        "kpi",
        en,
        zh,
        (x, 0, 3, 2),
        {"metrics": [metric], "compare": compare},
        sparkline="month",
        **extra,
    )


def _primary_grant(principal: Principal) -> Grant | None:
    unit_grants = [g for g in principal.grants if g.unit_id is not None]
    return min(unit_grants, key=lambda g: len(g.unit_path or ""), default=None)


async def role_of(session: AsyncSession, principal: Principal) -> RoleDefault:
    if any(g.tenant_wide for g in principal.grants):
        return "executive"
    if Role.ANALYST in principal.roles:
        return "analyst"
    grant = _primary_grant(principal)
    if grant is None or grant.unit_path is None:
        return "store"
    children = await session.scalar(
        select(func.count())
        .select_from(Unit)
        .where(Unit.tenant_id == principal.tenant_id, Unit.parent_id == grant.unit_id)
    )
    return "regional" if children else "store"


async def _leaf_depth(session: AsyncSession, principal: Principal) -> int:
    """The depth of the deepest units in the viewer's subtree: their stores."""
    grant = _primary_grant(principal)
    statement = select(func.max(Unit.depth)).where(Unit.tenant_id == principal.tenant_id)
    if grant is not None and grant.unit_path is not None:
        statement = statement.where(Unit.path.startswith(grant.unit_path))
    depth = await session.scalar(statement)
    return int(depth or 0)


async def default_definition(
    session: AsyncSession, principal: Principal, role: RoleDefault | None = None
) -> tuple[RoleDefault, DashboardDefinition]:
    role = role or await role_of(session, principal)
    grant = _primary_grant(principal)
    own_depth = 0 if grant is None or grant.unit_path is None else grant.unit_path.count("/") - 2
    widgets: list[dict[str, Any]]
    if role == "executive":
        widgets = [
            _kpi("nps", "nps", "NPS", "净推荐值", 0, "previous_period"),
            _kpi("csat", "csat", "CSAT", "满意度", 3, "previous_period"),
            _kpi("responses", "response_count", "Responses", "回复数", 6, "previous_period"),
            _kpi("rate", "response_rate", "Response rate", "回复率", 9, "previous_period"),
            _w(
                "trend",
                "trend",
                "NPS and CSAT by month",
                "NPS 与满意度月度趋势",
                (0, 2, 6, 4),
                {"metrics": ["nps", "csat"], "group_by": ["month"]},
            ),
            _w(
                "regions",
                "bar",
                "Regions compared",
                "区域对比",
                (6, 2, 6, 4),
                {"metrics": ["nps"], "group_by": ["unit_level:1"], "compare": "company"},
                drill=True,
            ),
            _w(
                "heatmap",
                "heatmap",
                "NPS by region and month",
                "各区域月度 NPS",
                (0, 6, 6, 4),
                {"metrics": ["nps"], "group_by": ["unit_level:1", "month"]},
                drill=True,
            ),
            _w(
                "drivers",
                "driver_quadrant",
                "Top drivers",
                "关键驱动因素",
                (6, 6, 6, 4),
                {"metrics": ["nps"]},
            ),
        ]
    elif role == "regional":
        leaf = await _leaf_depth(session, principal)
        widgets = [
            _kpi("nps", "nps", "NPS", "净推荐值", 0, "company"),
            _kpi("csat", "csat", "CSAT", "满意度", 3, "company"),
            _kpi("responses", "response_count", "Responses", "回复数", 6, "previous_period"),
            _kpi("rate", "response_rate", "Response rate", "回复率", 9, "previous_period"),
            _w(
                "trend",
                "trend",
                "NPS against the company",
                "NPS 与公司对比",
                (0, 2, 6, 4),
                {"metrics": ["nps"], "group_by": ["month"], "compare": "company"},
            ),
            _w(
                "ranking",
                "ranking",
                "My stores ranked",
                "门店排名",
                (6, 2, 6, 6),
                {"metrics": ["nps"], "group_by": [f"unit_level:{leaf}"], "compare": "company"},
                drill=True,
            ),
            _w(
                "children",
                "bar",
                "Next level down",
                "下级单位",
                (0, 6, 6, 4),
                {"metrics": ["nps"], "group_by": [f"unit_level:{own_depth + 1}"]},
                drill=True,
            ),
        ]
    elif role == "store":
        widgets = [
            _kpi("nps", "nps", "NPS against target", "NPS 对比目标", 0, "target"),
            _kpi("csat", "csat", "CSAT against target", "满意度对比目标", 3, "target"),
            _kpi("responses", "response_count", "Responses", "回复数", 6, "previous_period"),
            _w("cases", "kpi", "Open cases", "未结工单", (9, 0, 3, 2), {"metrics": ["open_cases"]}),
            _w(
                "trend",
                "trend",
                "NPS by week against the company",
                "每周 NPS 与公司对比",
                (0, 2, 6, 4),
                {"metrics": ["nps"], "group_by": ["week"], "compare": "company"},
            ),
            _w("comments", "comments", "Latest comments", "最新评论", (6, 2, 6, 6), comments={"limit": 20}),
        ]
    else:
        widgets = [
            _kpi("nps", "nps", "NPS", "净推荐值", 0, "previous_period"),
            _kpi("csat", "csat", "CSAT", "满意度", 3, "previous_period"),
            _kpi("ces", "ces", "CES", "费力度", 6, "previous_period"),
            _kpi("responses", "response_count", "Responses", "回复数", 9, "previous_period"),
            _w(
                "trend",
                "trend",
                "Trend",
                "趋势",
                (0, 2, 6, 4),
                {"metrics": ["nps", "csat"], "group_by": ["month"]},
            ),
            _w(
                "channels",
                "bar",
                "By channel",
                "按渠道",
                (6, 2, 6, 4),
                {"metrics": ["nps"], "group_by": ["channel"]},
            ),
            _w(
                "distribution",
                "distribution",
                "NPS score distribution",
                "NPS 分数分布",
                (0, 6, 6, 4),
                {"metrics": ["nps"]},
            ),
            _w(
                "funnel",
                "funnel",
                "Response funnel",
                "回复漏斗",
                (6, 6, 6, 4),
                {"metrics": ["response_rate"]},
            ),
            _w(
                "topics",
                "topic_trend",
                "Topics and their sentiment",
                "话题声量与情感",
                (0, 10, 12, 4),
                {"metrics": ["n"], "group_by": ["month"]},
            ),
            _w(
                "impact",
                "topic_impact",
                "Topics pulling NPS down",
                "拉低 NPS 的话题",
                (0, 14, 6, 4),
                {"metrics": ["nps"]},
            ),
            _w("rising", "rising_phrases", "Rising phrases", "上升热词", (6, 14, 6, 4), {"metrics": ["n"]}),
            _w(
                "comments",
                "comment_explorer",
                "Comments and topics",
                "评论与话题",
                (0, 18, 12, 6),
                comments={"limit": 20},
            ),
        ]
    return role, DashboardDefinition.model_validate({"widgets": widgets})
