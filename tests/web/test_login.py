"""Signing in and out through the pages: cookies, CSRF, throttling, audit."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from cxloop.identity import SESSION_COOKIE
from cxloop.web import create_app
from tests.factories import Org
from tests.web.conftest import PASSWORD, csrf_from, scalar, set_password, sign_in

EMAIL = "store@acme.test"


def set_cookie(response, name: str) -> SimpleCookie:  # type: ignore[no-untyped-def]
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie
    raise AssertionError(f"no Set-Cookie for {name}")


def count(database_url: str, sql: str, **params: str) -> int:
    return int(scalar(database_url, sql, **params))


def test_login_page_sets_a_csrf_cookie_and_labels_its_fields(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    cookie = set_cookie(response, "cxloop_csrf")["cxloop_csrf"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert '<label for="email">' in response.text and 'id="email"' in response.text
    assert '<label for="password">' in response.text and 'id="password"' in response.text


def test_successful_login_sets_a_strict_session_cookie_and_redirects(
    client: TestClient, org: Org, database_url: str
) -> None:
    set_password(database_url, EMAIL)
    before_csrf = client.get("/login").cookies.get("cxloop_csrf") or client.cookies.get("cxloop_csrf")
    response = sign_in(client, EMAIL)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session = set_cookie(response, SESSION_COOKIE)[SESSION_COOKIE]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert session["secure"] == ""  # plain http in tests, cookie_secure=auto
    assert session["max-age"] == str(12 * 3600)
    rotated = set_cookie(response, "cxloop_csrf")["cxloop_csrf"].value
    assert rotated != before_csrf
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 1
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action = 'login.succeeded'") == 1
    assert client.get("/").status_code == 200


def test_session_cookie_is_secure_behind_https(app, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    set_password(database_url, EMAIL)
    with TestClient(app, base_url="https://testserver") as https_client:
        response = sign_in(https_client, EMAIL)
        assert response.status_code == 303
        assert set_cookie(response, SESSION_COOKIE)[SESSION_COOKIE]["secure"] is True
        assert set_cookie(response, "cxloop_csrf")["cxloop_csrf"]["secure"] is True


def test_cookie_secure_always_marks_cookies_secure_on_http(settings, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    set_password(database_url, EMAIL)
    app = create_app(settings.model_copy(update={"cookie_secure": "always", "session_hours": 2}))
    with TestClient(app) as plain_client:
        plain_client.cookies.set("cxloop_csrf", "seed")  # Secure cookies are not sent back over http
        token = csrf_from(plain_client.get("/login").text)
        response = plain_client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
        )
        session = set_cookie(response, SESSION_COOKIE)[SESSION_COOKIE]
        assert session["secure"] is True
        assert session["max-age"] == str(2 * 3600)


def test_wrong_password_rerenders_with_an_error_tied_to_the_field(
    client: TestClient, org: Org, database_url: str
) -> None:
    set_password(database_url, EMAIL)
    response = sign_in(
        client,
        EMAIL,
        "not-the-password",
    )
    assert response.status_code == 401
    assert 'aria-describedby="password-error"' in response.text
    assert 'id="password-error">邮箱或密码不正确。</p>' in response.text
    assert f'value="{EMAIL}"' in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    # The failure was saved although the response is an error.
    assert count(database_url, "SELECT count(*) FROM login_attempts") == 1
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action = 'login.failed'") == 1
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 0


def test_empty_fields_are_refused_without_touching_the_database(
    client: TestClient, org: Org, database_url: str
) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 422
    assert 'id="email-error">请输入邮箱地址。</p>' in response.text
    assert 'id="password-error">请输入密码。</p>' in response.text
    assert count(database_url, "SELECT count(*) FROM login_attempts") == 0


def test_repeated_failures_are_throttled_with_429(settings, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    set_password(database_url, EMAIL)
    app = create_app(settings.model_copy(update={"login_max_failures": 2, "login_window_seconds": 600}))
    with TestClient(app) as throttled:
        assert sign_in(throttled, EMAIL, "wrong-1").status_code == 401
        assert sign_in(throttled, EMAIL, "wrong-2").status_code == 401
        response = sign_in(
            throttled,
            EMAIL,
            PASSWORD,
        )
        assert response.status_code == 429
        assert response.headers["retry-after"] == "600"
        assert "登录失败次数过多。请等待几分钟后再试。" in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 0
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action = 'login.throttled'") == 1


def test_login_without_csrf_token_is_refused_and_nothing_is_saved(
    client: TestClient, org: Org, database_url: str
) -> None:
    set_password(database_url, EMAIL)
    client.get("/login")
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "表单已过期，请重试。" in response.text
    forged = client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": "0" * 64}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 0
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action LIKE 'login.%'") == 0
    assert count(database_url, "SELECT count(*) FROM login_attempts") == 0


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/tokens", "/tokens"),
        ("/audit?action=logout", "/audit?action=logout"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_returns_only_to_local_paths(
    client: TestClient, org: Org, database_url: str, next_value: str, expected: str
) -> None:
    set_password(database_url, EMAIL)
    response = sign_in(client, EMAIL, next=next_value)
    assert response.status_code == 303
    assert response.headers["location"] == expected


def test_pages_redirect_to_login_and_the_api_keeps_problem_json(client: TestClient) -> None:
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/login"
    tokens = client.get("/tokens", follow_redirects=False)
    assert tokens.status_code == 303 and tokens.headers["location"] == "/login?next=/tokens"
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "unauthenticated"


def test_logout_ends_the_session_and_is_audited(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    session_cookie = client.cookies.get(SESSION_COOKIE)
    token = csrf_from(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 0
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action = 'logout'") == 1
    # The old cookie, replayed, no longer opens anything.
    client.cookies.set(SESSION_COOKIE, session_cookie)
    again = client.get("/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login"


def test_logout_without_csrf_token_is_refused_and_the_session_lives(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    response = client.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "表单已过期。请返回、刷新页面后重试。" in response.text
    assert count(database_url, "SELECT count(*) FROM user_sessions") == 1
    assert count(database_url, "SELECT count(*) FROM audit_events WHERE action = 'logout'") == 0
    assert client.get("/").status_code == 200
