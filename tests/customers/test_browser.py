"""Contacts in a real browser: search by phone, open the contact, see its timeline and consent.

Uses the chromium and live-server fixtures of tests/web (Debian's chromium;
Playwright never downloads a browser).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.factories import Org
from tests.web.conftest import PASSWORD, org, set_password  # noqa: F401  (org: made off the browser's loop)
from tests.web.test_browser import chromium, live_server, tab  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_search_then_detail(tab: Page, live_server: str, org: Org, database_url: str) -> None:  # noqa: F811
    api = httpx.Client(base_url=live_server, headers=org.auth("cx"))
    assert api.post("/api/v1/event-types", json={"name": "order_delivered"}).status_code == 201
    made = api.post(
        "/api/v1/contacts",
        json={
            "identities": {"phone": "13800138000", "email": "li@example.com"},
            "name": "李雷",
            "unit_code": "SH001",
            "tags": ["vip"],
        },
    )
    assert made.status_code == 201, made.text
    api.post(
        "/api/v1/contacts",
        json={"identities": {"phone": "13900139000"}, "name": "韩梅梅", "unit_code": "SH002"},
    )
    event = {
        "id": "o-1",
        "type": "order_delivered",
        "contact": {"phone": "13800138000"},
        "unit_code": "SH001",
    }
    assert api.post("/api/v1/events", json=event).status_code == 201
    api.close()
    set_password(database_url, "east@acme.test")
    page = tab
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server + "/login")
    page.get_by_label("邮箱").fill("east@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/contacts")
    expect(page.locator("h1")).to_have_text("联系人")
    expect(page.locator("[data-contact]")).to_have_count(2)
    page.get_by_label("邮箱、手机号或会员号").fill("138 0013 8000")
    page.get_by_role("button", name="查找联系人").click()
    expect(page.locator("[data-contact]")).to_have_count(1)
    page.get_by_role("link", name="李雷").click()
    page.wait_for_url(live_server + f"/contacts/{made.json()['id']}")
    expect(page.get_by_test_id("contact-name")).to_have_text("李雷")
    expect(page.get_by_test_id("identity-phone")).to_contain_text("+8613800138000")
    expect(page.locator('[data-testid="timeline"] [data-kind="event"]')).to_contain_text("order_delivered")
    expect(page.locator('tr[data-channel="sms"]')).to_contain_text("无记录")
    page.locator('tr[data-channel="sms"]').get_by_role("button", name="记录撤回").click()
    expect(page.locator('[role="status"]')).to_contain_text("已记录同意状态")
    expect(page.locator('tr[data-channel="sms"]')).to_contain_text("已撤回")
    assert {urlsplit(url).netloc for url in requests} == {urlsplit(live_server).netloc}
