"""The inbox in Debian's chromium on a 375 px phone: a store manager
acknowledges two cases at once, comments (a script stays text), resolves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.cases.support import open_one
from tests.factories import Org, make_org
from tests.web.conftest import PASSWORD, in_thread, set_password
from tests.web.test_browser import chromium, live_server

pytestmark = pytest.mark.browser
__all__ = ["chromium", "live_server"]

SCRIPT = "<script>window.pwned = 1</script>"


@pytest.fixture
def org(database_url: str) -> Org:
    return in_thread(make_org, database_url)  # type: ignore[no-any-return]


@pytest.fixture
def phone(chromium: Browser, live_server: str) -> Iterator[Page]:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def no_sideways_scroll(page: Page) -> None:
    width: Any = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 375, width


def test_store_manager_works_cases_on_a_phone(
    phone: Page, live_server: str, org: Org, database_url: str
) -> None:
    page = phone
    first, _ = in_thread(lambda: open_one(database_url, org, title="顾客投诉：排队太久 " + SCRIPT))
    second, _ = in_thread(lambda: open_one(database_url, org, title="NPS 3", priority="urgent"))
    set_password(database_url, "store@acme.test")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(live_server + "/login?next=/cases")
    page.get_by_label("邮箱").fill("store@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server + "/cases")
    page.get_by_role("link", name="我的门店/部门").click()
    page.wait_for_url("**/cases?view=units")
    cards = page.locator(".case-card")
    assert cards.count() == 2
    assert page.locator(f'[data-case="{first}"] .case-title').inner_text().endswith(SCRIPT)
    assert page.evaluate("window.pwned") is None
    assert "剩余" in page.locator(f'[data-case="{second}"] .sla').inner_text()
    no_sideways_scroll(page)
    page.get_by_label("选择工单 1").check()
    page.get_by_label("选择工单 2").check()
    page.get_by_role("button", name="受理所选").click()
    page.wait_for_url("**done=2&total=2")
    assert page.get_by_role("status").inner_text() == "已更新 2 / 2 个工单。"
    page.locator(f'[data-case="{first}"] .case-title').click()
    page.wait_for_url(f"**/cases/{first}")
    assert page.get_by_test_id("case-status").inner_text() == "已受理"
    page.get_by_label("评论", exact=True).fill(SCRIPT)
    page.get_by_role("button", name="添加评论").click()
    page.wait_for_url("**saved=1")
    assert page.locator(".entry-comment .entry-body").inner_text() == SCRIPT
    assert page.evaluate("window.pwned") is None
    no_sideways_scroll(page)
    page.get_by_label("备注（可选）").fill("已致电顾客并致歉")
    page.get_by_role("button", name="解决").click()
    page.wait_for_url("**saved=1")
    assert page.get_by_test_id("case-status").inner_text() == "已解决"
    assert "已致电顾客并致歉" in page.locator(".case-timeline").inner_text()
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("case-status").inner_text() == "Resolved"
    assert errors == []
