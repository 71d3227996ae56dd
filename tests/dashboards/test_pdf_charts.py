"""The PDF report draws charts (server-side SVG that WeasyPrint renders) above
each widget's table: lines for trends, bars for bars, rankings, topic impact
and rising phrases; Chinese labels escaped and printed with the CJK font."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from cxloop.dashboards.schemas import Widget
from cxloop.dashboards.svg_charts import chart_svg
from tests.dashboards.conftest import FakeMetrics
from tests.dashboards.test_exports import inflated
from tests.factories import Org

# ECharts' first palette colour (#0b5fcc), as WeasyPrint writes a fill.
BLUE_FILL = b"0.043137 0.372549 0.8 rg"


def widget(kind: str, metrics: list[str], groups: list[str]) -> Widget:
    return Widget.model_validate(
        {
            "id": "w",
            "type": kind,
            "query": {"metrics": metrics, "group_by": groups},
            "position": {"x": 0, "y": 0, "w": 6, "h": 4},
        }
    )


def labels(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_a_ranking_is_bars_best_first_with_escaped_names() -> None:
    rows: list[dict[str, Any]] = [
        {"unit_code": "A", "unit_name": "上海<店>", "nps": 12.0},
        {"unit_code": "B", "unit_name": "广州", "nps": 55.5},
        {"unit_code": "C", "unit_name": "深圳", "nps": -20.0},
        {"unit_code": "D", "unit_name": "北京", "nps": None},
    ]
    svg = chart_svg(widget("ranking", ["nps"], ["unit"]), rows)
    assert svg is not None and svg.startswith("<svg")
    assert svg.count("<rect") == 3
    names = [t for t in labels(svg) if t in ("广州", "上海&lt;店&gt;", "深圳")]
    assert names == ["广州", "上海&lt;店&gt;", "深圳"]
    assert "<店>" not in svg
    # The negative bar is red, the others blue.
    assert svg.count('fill="#b3261e"') == 1 and svg.count('fill="#0b5fcc"') == 2
    assert "Noto Sans CJK SC" in svg


def test_a_trend_is_one_line_per_metric_over_sorted_periods() -> None:
    rows = [
        {"month": m, "nps": 10.0 + i, "csat": 80.0 - i}
        for i, m in enumerate(["2026-02", "2026-01", "2026-03"])
    ]
    svg = chart_svg(widget("trend", ["nps", "csat"], ["month"]), rows)
    assert svg is not None
    assert svg.count("<polyline") == 2
    assert [t for t in labels(svg) if t.startswith("2026-")] == ["2026-01", "2026-02", "2026-03"]
    assert {"nps", "csat"} <= set(labels(svg))


def test_text_widgets_and_tables_only_types() -> None:
    impact = chart_svg(
        widget("topic_impact", ["nps"], []),
        [{"topic": "服务", "impact": -8.0}, {"topic": "价格", "impact": 3.0}],
    )
    assert impact is not None and impact.count("<rect") == 2
    topics = chart_svg(
        widget("topic_trend", ["n"], ["month"]),
        [
            {"month": "2026-01", "topic": "服务", "mentions": 5},
            {"month": "2026-02", "topic": "服务", "mentions": 9},
        ],
    )
    assert topics is not None and topics.count("<polyline") == 1
    assert chart_svg(widget("kpi", ["nps"], []), [{"nps": 1.0}]) is None
    assert chart_svg(widget("bar", ["nps"], ["channel"]), []) is None


def test_the_pdf_report_draws_the_charts_above_the_tables(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    got = client.get("/api/v1/dashboards/default/report?period=all", headers=org.auth("east"))
    assert got.status_code == 200, got.text
    content = inflated(got.content)
    # The regional default has a trend and two bar widgets: lines and bars in the brand blue.
    assert content.count(BLUE_FILL) >= 3
    fonts = set(re.findall(rb"/BaseFont\s*/([A-Za-z0-9+\-_]+)", content))
    assert any(b"CJK" in f or b"WenQuanYi" in f for f in fonts), fonts
