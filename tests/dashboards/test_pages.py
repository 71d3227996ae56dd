"""The dashboard pages without scripts: KPI tiles, tables with drill links and
comment lists are rendered on the server; filters are a plain GET form."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import FULL_ANSWERS, make_survey
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org
from tests.web.conftest import set_password, sign_in


def login(client: TestClient, database_url: str, who: str) -> TestClient:
    set_password(database_url, f"{who}@acme.test")
    assert sign_in(client, f"{who}@acme.test").status_code == 303
    return client


def state_of(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="dash-state">(.*?)</script>', html, re.S)
    assert match
    result: dict[str, Any] = json.loads(match.group(1))
    return result


def test_the_executive_sees_kpis_and_tables_without_scripts(
    client: TestClient, org: Org, database_url: str, metrics: FakeMetrics
) -> None:
    login(client, database_url, "cx")
    page = client.get("/dashboards?period=all")
    assert page.status_code == 200, page.text
    html = page.text
    assert "公司总览" in html
    assert 'data-testid="kpi-nps">40.0<' in html
    assert "+2.5" in html
    # Region rows link one level down: the drill-down works without scripts.
    assert 'href="/dashboards?unit_code=EAST&amp;period=all"' in html or "unit_code=EAST" in html
    assert "/static/vendor/echarts.min.js" in html
    assert "/static/dashboards/dashboards.js" in html
    state = state_of(html)
    assert state["id"] == "default"
    assert state["data"]["regions"]["rows"][0]["unit_code"] == "EAST"
    assert state["texts"]["customise"] == "自定义"
    assert "https://" not in html.replace("https://cxloop.dev/problems/", "")


def test_english_pages_and_the_store_managers_drill_to_responses(
    client: TestClient, org: Org, database_url: str, metrics: FakeMetrics
) -> None:
    survey = make_survey(client, org)
    made = client.post(
        f"/api/v1/surveys/{survey}/responses",
        json={"answers": {**FULL_ANSWERS, "nps": 4, "why": "太慢"}, "unit_code": "SH001"},
        headers=org.auth("cx"),
    )
    assert made.status_code == 201
    login(client, database_url, "store")
    client.post("/language", data={"locale": "en", "next": "/dashboards"}, follow_redirects=False)
    page = client.get("/dashboards?period=all")
    assert page.status_code == 200
    assert "My store" in page.text or "我的门店" in page.text
    assert "太慢" in page.text
    responses = client.get("/dashboards/responses?unit_code=SH001&period=all")
    assert responses.status_code == 200
    assert made.json()["id"] in responses.text
    # A unit outside the scope shows the viewer's own responses, never another unit's.
    outside = client.get("/dashboards/responses?unit_code=GZ001")
    assert outside.status_code == 200
    assert "GZ001</td>" not in outside.text


def test_bad_filters_on_the_page_are_reported_not_500(
    client: TestClient, org: Org, database_url: str, metrics: FakeMetrics
) -> None:
    login(client, database_url, "east")
    page = client.get("/dashboards?date_from=2026-06-01&date_to=2026-01-01&unit_code=SOUTH&period=zzz")
    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert state_of(page.text)["filters"].get("unit_code") is None
    assert client.get("/dashboards/NOPE").status_code == 404


def test_pages_need_a_signed_in_person(client: TestClient) -> None:
    got = client.get("/dashboards", follow_redirects=False)
    assert got.status_code == 303
    assert got.headers["location"].startswith("/login")
