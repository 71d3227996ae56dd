"""Dashboards in a real browser (Debian chromium): the charts render (checked
on screenshots: several colours, not a blank canvas), a click drills down
region -> city -> store -> the responses, and a customised layout is saved."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

import cxloop.dashboards.text_widgets as text_widgets
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org
from tests.web.conftest import PASSWORD, in_thread, org, set_password  # noqa: F401 - fixtures
from tests.web.test_browser import chromium, live_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(chromium: Browser, live_server: str) -> Iterator[Page]:  # noqa: F811
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, live_server: str, database_url: str, who: str) -> None:  # noqa: F811
    in_thread(set_password, database_url, f"{who}@acme.test")
    page.goto(live_server + "/login?next=/dashboards")
    page.get_by_label("邮箱").fill(f"{who}@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/dashboards")


# Where the first bar of "Regions compared" is, in the chart's pixels.
FIRST_BAR = """() => {
  const node = document.querySelector('[data-testid="widget-regions"] .chart');
  const chart = echarts.getInstanceByDom(node);
  return chart.convertToPixel({seriesIndex: 0}, [0, chart.getOption().series[0].data[0]]);
}"""


def colours(png: bytes) -> int:
    """Distinct colours in a screenshot, ignoring rare anti-aliasing shades."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64)
    counts = image.getcolors(64) or []
    total = sum(c for c, _ in counts)
    return sum(1 for c, _ in counts if c > total * 0.002)


def test_charts_render_and_drill_down_to_the_responses(
    desk: Page,
    live_server: str,  # noqa: F811
    database_url: str,
    org: Org,  # noqa: F811
    metrics: FakeMetrics,
    tmp_path: Path,
) -> None:
    page = desk
    outbound: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else outbound.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_server, database_url, "cx")
    page.goto(live_server + "/dashboards?period=all")
    assert page.locator("h1").inner_text() == "公司总览"
    assert page.evaluate("typeof window.echarts") == "object"
    for widget in ("trend", "regions", "heatmap"):
        section = page.locator(f'[data-testid="widget-{widget}"]')
        assert "charted" in (section.get_attribute("class") or "")
        canvas = section.locator("canvas")
        assert canvas.count() >= 1
        shot = section.screenshot(path=str(tmp_path / f"{widget}.png"))
        assert colours(shot) >= 4, widget
    # The sparkline under a KPI tile is drawn too.
    assert page.locator('[data-testid="widget-nps"] canvas').count() == 1
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # Click the first bar (East) of "Regions compared": one level down, the cities.
    regions = page.locator('[data-testid="widget-regions"] .chart')
    box = regions.bounding_box()
    assert box is not None
    clicked = page.evaluate(FIRST_BAR)
    page.mouse.click(box["x"] + clicked[0], box["y"] + clicked[1] + 5)
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("unit_code") == ["EAST"])
    assert metrics.calls[-1][1].get("filters", {}).get("unit_code") == "EAST"
    assert any(b.get("group_by") == ["unit_level:2"] for _, b in metrics.calls)

    # A store is a leaf: its link goes to the responses.
    page.goto(live_server + "/dashboards?period=all&unit_code=SH")
    regions = page.locator('[data-testid="widget-regions"] .chart')
    box = regions.bounding_box()
    assert box is not None
    point = page.evaluate(FIRST_BAR)
    page.mouse.click(box["x"] + point[0], box["y"] + point[1] + 5)
    page.wait_for_url(lambda url: urlsplit(url).path == "/dashboards/responses")
    assert parse_qs(urlsplit(page.url).query)["unit_code"] == ["SH001"]
    assert page.locator("h1").inner_text().startswith("回复")
    assert outbound == []
    assert errors == [], errors[:3]


def test_customise_move_resize_add_and_save(
    desk: Page,
    live_server: str,  # noqa: F811
    database_url: str,
    org: Org,  # noqa: F811
    metrics: FakeMetrics,
) -> None:
    page = desk
    sign_in(page, live_server, database_url, "east")
    page.goto(live_server + "/dashboards?period=all")
    assert page.locator("h1").inner_text() == "我的区域"
    page.get_by_test_id("customise").click()
    page.get_by_test_id("wider-trend").click()
    page.get_by_test_id("down-nps").click()
    page.get_by_test_id("remove-children").click()
    page.get_by_test_id("add-type").select_option("funnel")
    page.get_by_test_id("add-widget").click()
    page.get_by_test_id("dashboard-name").fill("华东看板")
    page.get_by_test_id("save-dashboard").click()
    page.wait_for_url(
        lambda url: urlsplit(url).path.startswith("/dashboards/") and len(urlsplit(url).path) > 20
    )
    assert page.locator("h1").inner_text() == "华东看板"
    saved = page.evaluate("JSON.parse(document.getElementById('dash-state').textContent).definition.widgets")
    by_id = {w["id"]: w for w in saved}
    assert by_id["trend"]["position"]["w"] == 7
    assert by_id["nps"]["position"]["y"] == 1
    assert "children" not in by_id
    assert by_id["funnel-1"]["type"] == "funnel"
    assert by_id["funnel-1"]["query"]["metrics"] == ["response_rate"]
    assert page.locator('[data-testid="widget-funnel-1"] canvas').count() == 1
    # /dashboards now opens the saved one.
    page.goto(live_server + "/dashboards")
    assert page.locator("h1").inner_text() == "华东看板"


def test_an_open_dashboard_follows_new_data(
    desk: Page,
    live_server: str,  # noqa: F811
    database_url: str,
    org: Org,  # noqa: F811
    metrics: FakeMetrics,
) -> None:
    page = desk
    sign_in(page, live_server, database_url, "store")
    page.goto(live_server + "/dashboards?period=all&refresh=2")
    tile = page.get_by_test_id("kpi-nps")
    assert tile.inner_text() == "40.0"
    metrics.offset = 7.5
    expect(tile).to_have_text("47.5", timeout=10_000)


TEXT_ROWS: dict[str, list[dict[str, Any]]] = {
    "topic_trend": [
        {"month": m, "topic": t, "mentions": 10 + i * 3 + j, "net_sentiment": -40.0 + 20 * i + j * 5}
        for i, m in enumerate(["2026-09", "2026-10", "2026-11"])
        for j, t in enumerate(["服务 > 态度", "价格", "配送 > 速度"])
    ],
    "topic_impact": [
        {"topic": "服务 > 态度", "impact": -12.5, "n": 40},
        {"topic": "配送 > 速度", "impact": -4.0, "n": 30},
        {"topic": "价格", "impact": 6.5, "n": 25},
    ],
    "rising_phrases": [
        {"phrase": "排队", "growth_points": 18.0, "count": 30},
        {"phrase": "退款", "growth_points": 9.5, "count": 12},
        {"phrase": "口味", "growth_points": 3.0, "count": 8},
    ],
}


async def fake_text(
    session: Any, principal: Any, kind: str, body: dict[str, Any], options: Any
) -> dict[str, Any]:
    return {"rows": TEXT_ROWS[kind], "min_n": 5, "suppressed_groups": 0}


def test_text_widgets_render_their_charts(
    desk: Page,
    live_server: str,  # noqa: F811
    database_url: str,
    org: Org,  # noqa: F811
    metrics: FakeMetrics,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(text_widgets, "text_runner", fake_text)
    widgets = [
        {
            "id": "topics",
            "type": "topic_trend",
            "query": {"metrics": ["n"], "group_by": ["month"]},
            "position": {"x": 0, "y": 0, "w": 12, "h": 4},
        },
        {
            "id": "impact",
            "type": "topic_impact",
            "query": {"metrics": ["nps"]},
            "position": {"x": 0, "y": 4, "w": 6, "h": 4},
        },
        {
            "id": "rising",
            "type": "rising_phrases",
            "query": {"metrics": ["n"]},
            "position": {"x": 6, "y": 4, "w": 6, "h": 4},
        },
    ]
    made = httpx.post(
        live_server + "/api/v1/dashboards",
        json={"name": "文本洞察", "definition": {"widgets": widgets}},
        headers=org.auth("cx"),
    )
    assert made.status_code == 201, made.text
    page = desk
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live_server, database_url, "cx")
    page.goto(live_server + "/dashboards/" + made.json()["id"] + "?period=all")
    assert page.locator("h1").inner_text() == "文本洞察"
    for widget in ("topics", "impact", "rising"):
        section = page.locator(f'[data-testid="widget-{widget}"]')
        assert "charted" in (section.get_attribute("class") or ""), widget
        shot = section.screenshot(path=str(tmp_path / f"{widget}.png"))
        assert colours(shot) >= 4, widget
    assert errors == [], errors[:3]
