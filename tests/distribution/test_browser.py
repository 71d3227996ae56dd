"""A campaign made and launched in a real browser (Debian chromium), then its
deliveries seen on the status page. Uses the fixtures of tests/web."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.collection.support import definition
from tests.distribution.support import FakeDirectory
from tests.factories import Org
from tests.web.conftest import PASSWORD, org, set_password  # noqa: F401  (org: made off the browser's loop)
from tests.web.test_browser import chromium, live_server, tab  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_campaign_from_form_to_delivery_status(
    tab: Page,  # noqa: F811
    live_server: str,  # noqa: F811
    org: Org,  # noqa: F811
    database_url: str,
    people: FakeDirectory,
    inbox: Any,
) -> None:
    box, controller = inbox
    api = httpx.Client(base_url=live_server, headers=org.auth("admin"))
    config = {"host": "127.0.0.1", "port": controller.port, "security": "none", "from": "Acme <s@acme.test>"}
    assert api.put("/api/v1/channels/email", json={"provider": "smtp", "config": config}).status_code == 200
    survey = api.post("/api/v1/surveys", json={"definition": definition()}).json()["id"]
    assert api.post(f"/api/v1/surveys/{survey}/publish").status_code == 200
    api.close()
    contacts = [people.add(email=f"b{i}@example.com", language="zh-CN") for i in range(3)]
    set_password(database_url, "cx@acme.test")
    page = tab
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server + "/login")
    page.get_by_label("邮箱").fill("cx@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server + "/")

    page.goto(live_server + "/campaigns")
    expect(page.locator("h1")).to_have_text("调研活动")
    page.get_by_label("名称").fill("十二月门店回访")
    page.get_by_label("或联系人 ID 列表").fill("\n".join(contacts))
    page.get_by_role("button", name="统计受众人数").click()
    expect(page.get_by_test_id("audience-preview")).to_have_text("受众共有 3 位联系人。")
    page.get_by_role("button", name="保存活动").click()
    expect(page.get_by_test_id("campaign-notice")).to_contain_text("活动已保存为草稿。")
    row = page.locator("[data-campaign]")
    expect(row).to_contain_text("十二月门店回访")
    row.get_by_role("button", name="启动").click()
    expect(page.get_by_test_id("campaign-notice")).to_contain_text("活动已启动。")
    expect(page.locator("[data-campaign]")).to_contain_text("已发送: 3")

    page.get_by_role("link", name="发送状态").click()
    expect(page.locator("h1")).to_have_text("发送状态")
    expect(page.locator('tr[data-status="sent"]')).to_have_count(3)
    assert sorted(m[1][0] for m in box.messages) == [f"b{i}@example.com" for i in range(3)]
    assert {urlsplit(url).netloc for url in requests} == {urlsplit(live_server).netloc}
