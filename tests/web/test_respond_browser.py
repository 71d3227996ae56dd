"""A respondent on a phone-sized chromium: a two-page survey answered with the
keyboard for the NPS question, an inline error seen and fixed, the thank-you."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cxloop.kit.settings import Settings
from cxloop.web import create_app
from cxloop.web.pages import respond
from tests.factories import Org

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = Path("/tmp/cxloop-respond-shots")


def t(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


SURVEY: dict[str, Any] = {
    "title": t("门店体验", "Store visit"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "theme": {"color": "#c8102e"},
    "thank_you": [{"outcome": "promoter", "message": t("谢谢您的推荐！", "Thanks for recommending us!")}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "nps",
                    "type": "nps",
                    "required": True,
                    "text": t("您有多大可能向朋友推荐我们？", "How likely are you to recommend us?"),
                    "low_label": t("完全不可能", "Not at all likely"),
                    "high_label": t("非常可能", "Extremely likely"),
                },
            ],
        },
        {
            "id": "p2",
            "questions": [
                {
                    "id": "via",
                    "type": "single_choice",
                    "required": True,
                    "text": t("您是怎么知道我们的？", "How did you hear of us?"),
                    "choices": [
                        {"id": "friend", "text": t("朋友", "A friend")},
                        {"id": "ad", "text": t("广告", "An ad")},
                    ],
                },
                {
                    "id": "more",
                    "type": "text",
                    "size": "long",
                    "text": t("还有什么想说的？", "Anything else?"),
                },
            ],
        },
    ],
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def distinct_rows(png: bytes) -> int:
    """How many different pixel rows a PNG has (a blank page has one)."""
    position, data, width, height, bpp = 8, b"", 0, 0, 4
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            bpp = {2: 3, 6: 4}.get(body[9], 4)
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    raw = zlib.decompress(data)
    stride = width * bpp + 1
    return len({raw[row * stride + 1 : (row + 1) * stride] for row in range(height)})


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make browsers)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(settings: Settings, org: Org, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(respond, "MIN_SECONDS_FIRST_PAGE", 0.0)
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
def phone(chromium: Browser, live_server: str) -> Iterator[Page]:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = context.new_page()
    yield tab
    context.close()


def test_a_phone_answers_a_two_page_survey_with_the_keyboard(phone: Page, live_server: str, org: Org) -> None:
    with httpx.Client(base_url=live_server, headers=org.auth("cx")) as api:
        survey_id = api.post("/api/v1/surveys", json={"definition": SURVEY}).json()["id"]
        assert api.post(f"/api/v1/surveys/{survey_id}/publish").status_code == 200
    requested: list[str] = []
    phone.on("request", lambda request: requested.append(request.url))
    phone.goto(f"{live_server}/s/{survey_id}")
    expect(phone.locator("h1")).to_have_text("门店体验")

    # Sending the page unanswered: the error summary takes the focus and the field says why.
    phone.get_by_role("button", name="下一页").click()
    expect(phone.locator("#errsum")).to_be_focused()
    expect(phone.locator("#e-nps")).to_contain_text("请回答这个问题。")
    assert phone.locator("#f-nps").get_attribute("aria-invalid") == "true"
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / "error.png"), full_page=True)

    # Keyboard only: Tab into the scale, arrows to 9, Tab to the button, Enter.
    for _ in range(12):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.name") == "q.nps":
            break
    assert phone.evaluate("document.activeElement.name") == "q.nps"
    phone.keyboard.press("Space")
    for _ in range(9):
        phone.keyboard.press("ArrowRight")
    assert phone.evaluate("document.querySelector('input[name=\"q.nps\"]:checked').value") == "9"
    box = phone.locator("label.pt").first.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 24
    row = phone.locator(".scale").first.bounding_box()
    assert row is not None and row["width"] <= 390
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.value") == "next"
    phone.keyboard.press("Enter")

    expect(phone.get_by_text("您是怎么知道我们的？")).to_be_visible()
    phone.get_by_text("朋友").click()
    phone.get_by_label("还有什么想说的？").fill("<img src=x onerror=alert(1)>")
    phone.screenshot(path=str(SHOTS / "page2.png"), full_page=True)
    phone.get_by_role("button", name="提交").click()
    expect(phone.locator(".thanks-msg")).to_have_text("谢谢您的推荐！")

    shot = phone.screenshot(path=str(SHOTS / "thanks.png"), full_page=True)
    assert distinct_rows(shot) > 20
    assert all(url.startswith(live_server) for url in requested), requested


RANKED: dict[str, Any] = {
    "title": t("排序", "Ranking"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "order",
                    "type": "ranking",
                    "required": True,
                    "text": t("请排序", "Put these in order"),
                    "choices": [{"id": c, "text": t(c, c)} for c in ("price", "speed", "staff")],
                }
            ],
        }
    ],
}


def test_ranking_buttons_and_the_redirect_at_the_end(
    phone: Page, live_server: str, org: Org, database_url: str
) -> None:
    target = f"http://127.0.0.1:{free_port()}/done"
    with httpx.Client(base_url=live_server, headers=org.auth("cx")) as api:
        survey_id = api.post(
            "/api/v1/surveys", json={"definition": {**RANKED, "redirect_url": target}}
        ).json()["id"]
        assert api.post(f"/api/v1/surveys/{survey_id}/publish").status_code == 200
    phone.goto(f"{live_server}/s/{survey_id}?lang=en")
    selects = phone.locator("ol.rank select")
    assert [selects.nth(i).input_value() for i in range(3)] == ["1", "2", "3"]
    first_item = phone.locator("ol.rank li").first
    name = first_item.locator("label").inner_text()
    first_item.get_by_role("button", name=f"{name} ↓").click()
    labels = phone.locator("ol.rank li label").all_inner_texts()
    assert labels[1] == name
    assert [selects.nth(i).input_value() for i in range(3)] == ["1", "2", "3"]
    with phone.expect_request(lambda request: request.url == target):
        phone.get_by_role("button", name="Submit").click()
    with httpx.Client(base_url=live_server, headers=org.auth("cx")) as api:
        (stored,) = api.get(f"/api/v1/surveys/{survey_id}/responses").json()["items"]
    assert stored["answers"] == {"order": labels}
