"""Page language: the user's setting, then the switcher's cookie, then
Accept-Language, then the configured default."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cxloop.web import create_app
from cxloop.web.i18n import negotiate, page_locale, parse_accept_language
from tests.factories import Org
from tests.web.conftest import csrf_from, scalar


def heading(html: str) -> str:
    return html.split("<h1>", 1)[1].split("</h1>", 1)[0]


@pytest.mark.parametrize(
    ("accept", "lang", "title"),
    [
        ("en-US,en;q=0.9", "en", "Sign in"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", "登录"),
        ("zh-TW", "zh-CN", "登录"),
        ("fr-FR, en;q=0.5", "en", "Sign in"),
        ("de-DE", "zh-CN", "登录"),
        ("en;q=0.2, zh;q=0.9", "zh-CN", "登录"),
    ],
)
def test_login_page_follows_accept_language(client: TestClient, accept: str, lang: str, title: str) -> None:
    response = client.get("/login", headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert heading(response.text) == title
    assert response.headers["content-language"] == lang


def test_default_locale_applies_without_a_preference(settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings.model_copy(update={"default_locale": "en"}))) as client:
        assert heading(client.get("/login").text) == "Sign in"
    with TestClient(create_app(settings)) as client:
        assert heading(client.get("/login").text) == "登录"


def test_switcher_cookie_beats_accept_language(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/language", data={"locale": "en", "next": "/login", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.cookies.get("lang") == "en"
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert heading(page.text) == "Sign in"


def test_switcher_refuses_unknown_languages_and_missing_csrf(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    unknown = client.post("/language", data={"locale": "xx", "csrf_token": token}, follow_redirects=False)
    assert unknown.status_code == 422
    assert "lang" not in client.cookies
    forged = client.post("/language", data={"locale": "en"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "lang" not in client.cookies


def test_signed_in_switch_saves_the_users_setting_which_beats_the_cookie(
    signed_in, org: Org, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    assert heading(client.get("/").text) == "欢迎，Store"
    token = csrf_from(client.get("/").text)
    response = client.post(
        "/language", data={"locale": "en", "next": "/", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert scalar(database_url, "SELECT locale FROM users WHERE email = 'store@acme.test'") == "en"
    client.cookies.set("lang", "zh-CN")
    page = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert heading(page.text) == "Welcome, Store"
    assert "<li>Unit manager · Shanghai Nanjing Rd <code>SH001</code></li>" in page.text
    assert '<span class="unit-name">Shanghai Nanjing Rd</span>' in page.text


def test_signed_in_switch_without_csrf_changes_nothing(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    response = client.post("/language", data={"locale": "en"}, follow_redirects=False)
    assert response.status_code == 403
    assert scalar(database_url, "SELECT locale FROM users WHERE email = 'store@acme.test'") is None
    assert "lang" not in client.cookies


def test_negotiation_rules() -> None:
    assert parse_accept_language("en;q=0.5, zh-CN, fr;q=0") == ["zh-CN", "en"]
    assert parse_accept_language("x;q=abc, en") == ["en"]
    assert page_locale("zh-tw") == "zh-CN"
    assert page_locale("EN-gb") == "en"
    assert page_locale("ja") is None
    assert negotiate("en", "zh-CN", "zh-CN", "zh-CN") == "en"
    assert negotiate(None, "en", "zh-CN", "zh-CN") == "en"
    assert negotiate(None, "nonsense", "en-AU", "zh-CN") == "en"
    assert negotiate(None, None, None, "en") == "en"
