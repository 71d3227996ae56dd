"""The settings area in a real browser: an admin opens settings from the
navigation, adds a person and changes the quiet hours.

Uses the chromium and live-server fixtures of test_browser.py (Debian's
chromium; Playwright never downloads a browser).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import PASSWORD, scalar, set_password
from tests.web.test_browser import chromium, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def wide_tab(chromium: Browser, live_server: str) -> Iterator[Page]:  # noqa: F811
    context = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    browser_page = context.new_page()
    yield browser_page
    context.close()


def test_admin_adds_a_person_and_changes_quiet_hours(
    wide_tab: Page,
    live_server: str,  # noqa: F811
    database_url: str,
) -> None:
    page = wide_tab
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    set_password(database_url, "admin@acme.test")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill("admin@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url(live_server + "/settings")
    expect(page.locator("h1")).to_have_text("Settings")

    page.get_by_role("link", name="Users and roles").click()
    page.wait_for_url(live_server + "/settings/users")
    # A refused form first: the error is tied to its field.
    page.get_by_role("button", name="Add person").click()
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#user-email-error")).to_have_text("Enter the person's email address.")
    email.fill("wang.fang@acme.test")
    page.get_by_label("Name", exact=True).fill("Wang Fang")
    page.locator("#user-role").select_option("agent")
    page.locator("#user-unit").select_option("SH002")
    page.get_by_role("button", name="Add person").click()
    page.wait_for_url(live_server + "/settings/users?saved=user_created")
    expect(page.get_by_test_id("notice")).to_have_text("The person was added.")
    expect(page.locator('tr[data-user="wang.fang@acme.test"]')).to_contain_text("Wang Fang")
    assert (
        scalar(
            database_url,
            "SELECT m.role || '@' || u.code FROM memberships m JOIN units u ON u.id = m.unit_id "
            "JOIN users p ON p.id = m.user_id WHERE p.email = 'wang.fang@acme.test'",
        )
        == "agent@SH002"
    )

    page.get_by_role("link", name="Back to settings").click()
    page.get_by_role("link", name="Channels and sending").click()
    page.wait_for_url(live_server + "/settings/channels")
    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_label("Quiet until").fill("07:30")
    page.get_by_role("button", name="Save sending policy").click()
    page.wait_for_url(live_server + "/settings/channels?saved=saved")
    expect(page.get_by_label("Quiet from")).to_have_value("22:00")
    expect(page.get_by_label("Quiet until")).to_have_value("07:30")
    assert (
        scalar(database_url, "SELECT quiet_start || '-' || quiet_end FROM sending_policies") == "22:00-07:30"
    )
    # The refused form answered 422 on purpose; nothing else went wrong.
    assert [e for e in console_errors if "status of 422" not in e] == []
