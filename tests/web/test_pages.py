"""Home, tokens and audit pages: scope, one-time secrets, admin-only audit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org
from tests.web.conftest import csrf_from, scalar

UNIT_ATTR = re.compile(r'data-unit="([^"]+)"')


def shown_units(html: str) -> list[str]:
    return UNIT_ATTR.findall(html)


@pytest.mark.parametrize(
    ("who", "units"),
    [
        ("store", ["SH001"]),
        ("agent", ["SH001"]),
        ("east", ["EAST", "SH", "SH001", "SH002"]),
        ("analyst", ["EAST", "SH", "SH001", "SH002"]),
        ("admin", ["HQ", "EAST", "SH", "SH001", "SH002", "SOUTH", "GZ", "GZ001"]),
    ],
)
def test_home_shows_exactly_the_units_in_scope(signed_in, who: str, units: list[str]) -> None:  # type: ignore[no-untyped-def]
    html = signed_in(who).get("/").text
    assert shown_units(html) == units


def test_home_shows_who_and_role_and_nests_the_tree(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("east").get("/").text
    assert '<dd data-testid="email">east@acme.test</dd>' in html
    assert "<li>单元负责人 · 华东区 <code>EAST</code></li>" in html
    # SH001 sits inside SH, which sits inside EAST.
    east = html.index('data-unit="EAST"')
    shanghai = html.index('data-unit="SH"')
    store = html.index('data-unit="SH001"')
    assert east < shanghai < store
    assert html.count("<ul") - html.count('<ul class="plain"') == 3 + 1  # tree levels + main nav


def test_navigation_lists_sections_and_audit_only_for_admins(signed_in, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("store").get("/").text
    assert '<li><a href="/surveys">问卷</a></li>' in html
    sections = (("/contacts", "客户"), ("/campaigns", "投放"), ("/dashboards", "仪表盘"), ("/cases", "工单"))
    for href, label in sections:
        assert f'<li><a href="{href}">{label}</a></li>' in html
    assert 'href="/settings"' not in html and "即将推出" not in html
    assert 'href="/tokens"' in html
    assert 'href="/audit"' not in html
    client.cookies.clear()
    admin_home = signed_in("admin").get("/").text
    assert 'href="/audit"' in admin_home
    assert '<li><a href="/settings">设置</a></li>' in admin_home


def test_create_token_shows_it_once_and_it_works_on_the_api(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    token = csrf_from(client.get("/tokens").text)
    response = client.post("/tokens", data={"csrf_token": token, "name": "BI export", "scopes": ["read"]})
    assert response.status_code == 201
    secret = re.search(r'value="(cxl_[^"]+)"', response.text)
    assert secret
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert me.status_code == 200 and me.json()["email"] == "store@acme.test"
    # Listed afterwards, but never with its secret.
    listing = client.get("/tokens").text
    assert "BI export" in listing and secret.group(1) not in listing
    assert scalar(database_url, "SELECT scopes FROM api_tokens WHERE name = 'BI export'") in (
        '["read"]',
        ["read"],
    )


def test_create_token_validates_fields(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("analyst")
    token = csrf_from(client.get("/tokens").text)
    response = client.post("/tokens", data={"csrf_token": token, "name": " ", "scopes": ["write"]})
    assert response.status_code == 422
    assert 'id="name-error">请为令牌命名。</p>' in response.text
    over = client.post("/tokens", data={"csrf_token": token, "name": "mine", "scopes": ["write"]})
    assert over.status_code == 422
    assert 'id="scopes-error">只能选择您的角色允许的权限。</p>' in over.text
    assert scalar(database_url, "SELECT count(*) FROM api_tokens WHERE name = 'mine'") == 0


def test_create_token_without_csrf_is_refused_and_creates_nothing(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    response = client.post("/tokens", data={"name": "sneaky", "scopes": ["read"]})
    assert response.status_code == 403
    assert scalar(database_url, "SELECT count(*) FROM api_tokens WHERE name = 'sneaky'") == 0
    assert (
        scalar(database_url, "SELECT count(*) FROM audit_events WHERE action = 'token.created'") == 6
    )  # factory's


def test_revoke_token_from_the_page(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    token_id = org.tokens["store"].split("_")[1]
    page = client.get("/tokens").text
    assert f'action="/tokens/{token_id}/revoke"' in page
    response = client.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/tokens"
    assert client.get("/api/v1/me", headers=org.auth("store")).status_code == 401
    assert f'action="/tokens/{token_id}/revoke"' not in client.get("/tokens").text


def test_revoking_someone_elses_token_answers_404(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    other = org.tokens["east"].split("_")[1]
    response = client.post(
        f"/tokens/{other}/revoke", data={"csrf_token": csrf_from(client.get("/tokens").text)}
    )
    assert response.status_code == 404
    assert "该令牌不存在，或您无权查看。" in response.text
    assert client.get("/api/v1/me", headers=org.auth("east")).status_code == 200


def test_audit_page_is_404_for_everyone_but_admins(signed_in, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    for who in ("store", "cx", "analyst"):
        client.cookies.clear()
        response = signed_in(who).get("/audit")
        assert response.status_code == 404, who
        assert "<h1>页面不存在</h1>" in response.text


def test_audit_page_lists_and_filters_events(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    everything = client.get("/audit")
    assert everything.status_code == 200
    assert 'data-action="login.succeeded"' in everything.text
    assert 'data-action="user.created"' in everything.text
    logins = client.get("/audit", params={"action": "login.succeeded"}).text
    assert set(re.findall(r'data-action="([^"]+)"', logins)) == {"login.succeeded"}
    future = client.get("/audit", params={"since": "2999-01-01"}).text
    assert re.findall(r'data-action="([^"]+)"', future) == []
    assert "没有符合筛选条件的事件。" in future


def test_audit_filters_with_bad_values_explain_the_field(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    response = client.get("/audit", params={"since": "yesterday", "action": "drop table"})
    assert response.status_code == 422
    assert 'id="since-error">请按 YYYY-MM-DD 格式输入日期。</p>' in response.text
    assert 'id="action-error">请从列表中选择一个操作。</p>' in response.text
    bad_cursor = client.get("/audit", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 422
    assert "分页链接无效，请从第一页重新开始。" in bad_cursor.text


def test_unknown_page_renders_the_html_error_page(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    assert "<h1>Page not found</h1>" in response.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_html_routes_are_left_out_of_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for page in ("/", "/login", "/logout", "/language", "/tokens", "/audit", "/static/vendor/{name}"):
        assert page not in paths
