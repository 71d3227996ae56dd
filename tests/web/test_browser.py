"""Real browser runs against a real server: Debian's chromium through Playwright.

Playwright's sync API keeps an event loop running in the test's thread while
it is started. pytest-playwright's fixtures keep it for the whole session,
which would break later tests that call asyncio.run, so these tests start
Playwright for this module only.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from cxloop.kit.settings import Settings
from cxloop.web import create_app
from tests.factories import Org
from tests.web.conftest import PASSWORD, set_password

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make browsers)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(settings: Settings, org: Org) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def tab(chromium: Browser, live_server: str) -> Iterator[Page]:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    browser_page = context.new_page()
    yield browser_page
    context.close()


def visible_units(page: Page) -> list[str]:
    return [
        str(code)
        for code in page.locator(".unit-tree [data-unit]").evaluate_all(
            "nodes => nodes.map(n => n.dataset.unit)"
        )
    ]


def test_store_manager_signs_in_sees_only_their_store_switches_language_and_signs_out(
    tab: Page, live_server: str, database_url: str, tmp_path: Path
) -> None:
    page = tab
    set_password(database_url, "store@acme.test")
    requests: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )

    page.goto(live_server + "/")
    assert urlsplit(page.url).path == "/login"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.get_by_label("邮箱").fill("store@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    page.wait_for_url(live_server + "/")
    assert page.locator("h1").inner_text() == "欢迎，Store"
    assert visible_units(page) == ["SH001"]
    assert page.locator(".unit-tree .unit-name").all_inner_texts() == ["上海南京路店"]
    assert page.evaluate("typeof window.htmx") == "object"
    page.screenshot(path=str(tmp_path / "home-zh.png"), full_page=True)
    assert (tmp_path / "home-zh.png").stat().st_size > 1000

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Welcome, Store"
    assert page.locator(".unit-tree .unit-name").all_inner_texts() == ["Shanghai Nanjing Rd"]
    page.screenshot(path=str(tmp_path / "home-en.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(live_server + "/login")
    assert page.locator("h1").inner_text() == "Sign in"
    page.goto(live_server + "/tokens")
    assert urlsplit(page.url).path == "/login" and urlsplit(page.url).query == "next=/tokens"

    origin = urlsplit(live_server).netloc
    assert requests, "no requests were recorded"
    assert {urlsplit(url).netloc for url in requests} == {origin}
    assert any(url.endswith("/static/vendor/htmx.min.js") for url in requests)
    assert console_errors == []


def test_htmx_requests_carry_the_csrf_header(tab: Page, live_server: str, database_url: str) -> None:
    page = tab
    set_password(database_url, "east@acme.test")
    page.goto(live_server + "/login")
    page.get_by_label("邮箱").fill("east@acme.test")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server + "/")
    assert visible_units(page) == ["EAST", "SH", "SH001", "SH002"]
    expected = page.locator("body").get_attribute("hx-headers")
    assert expected
    with page.expect_request(lambda request: request.url.endswith("/api/v1/me")) as caught:
        page.evaluate("() => htmx.ajax('PATCH', '/api/v1/me', {source: 'body', swap: 'none', values: {}})")
    sent = caught.value.headers.get("x-csrf-token")
    assert sent and sent in expected
