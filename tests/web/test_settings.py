"""The settings hub, people and roles, and the organisation pages: who may
see them, what they show, and that a refused form leaves nothing behind."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org
from tests.web.conftest import csrf_from, scalar, sign_in

PAGES = (
    "/settings",
    "/settings/users",
    "/settings/organisation",
    "/settings/channels",
    "/settings/cases",
    "/settings/analytics",
)


def json_of(value: object) -> object:
    """A JSON column as SQLite (text) or PostgreSQL (decoded) returns it."""
    return json.loads(value) if isinstance(value, str) else value


def count(database_url: str, sql: str, **params: object) -> int:
    return int(scalar(database_url, sql, **params))


def field_error(page: str, field_id: str) -> str:
    """The error text tied to a field by aria-describedby (and the field marked invalid)."""
    match = re.search(rf'<(?:input|select|textarea)[^>]*id="{re.escape(field_id)}"[^>]*>', page)
    assert match, f"no field {field_id}"
    tag = match.group(0)
    assert 'aria-invalid="true"' in tag, tag
    assert f"{field_id}-error" in tag, tag
    error = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    assert error, f"no error for {field_id}"
    return html_lib.unescape(error.group(1))


@pytest.mark.parametrize("who", ["admin", "cx"])
@pytest.mark.parametrize("path", PAGES)
def test_tenant_wide_roles_open_every_settings_page(signed_in, who: str, path: str) -> None:  # type: ignore[no-untyped-def]
    response = signed_in(who).get(path)
    assert response.status_code == 200, response.text
    assert '<a href="/settings" aria-current="page">设置</a>' in response.text


@pytest.mark.parametrize("who", ["east", "store", "agent", "analyst"])
def test_other_roles_find_no_settings_and_no_link(signed_in, who: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(who)
    assert 'href="/settings"' not in client.get("/").text
    for path in PAGES:
        assert client.get(path).status_code == 404, path


def test_the_hub_links_every_section_and_the_nav_has_no_coming_soon(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("admin").get("/settings").text
    for path in PAGES[1:]:
        assert f'<a href="{path}">' in html
    assert "即将推出" not in html
    assert "<h1>设置</h1>" in html
    # The page's own list of sections does not replace the main navigation.
    assert '<a href="/dashboards">仪表盘</a>' in html
    assert ">/settings/users</a>" not in html


def test_settings_pages_speak_english_too(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    html = client.get("/settings/users", headers={"Accept-Language": "en"}).text
    client.cookies.set("lang", "en")
    html = client.get("/settings/users").text
    assert "<h1>Users and roles</h1>" in html
    assert '<label for="user-email">Email</label>' in html


def test_signed_out_is_sent_to_sign_in(client: TestClient, org: Org) -> None:
    response = client.get("/settings/users", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/settings/users"


# --- users and roles -----------------------------------------------------------------


def test_users_page_lists_people_with_role_and_unit(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("admin").get("/settings/users").text
    emails = re.findall(r'<tr data-user="([^"]+)">', html)
    assert emails == sorted(f"{w}@acme.test" for w in ("admin", "cx", "east", "store", "agent", "analyst"))
    row = html[html.index('data-user="east@acme.test"') :].split("</tr>", 1)[0]
    assert '<option value="unit_manager" selected>单元负责人</option>' in row
    assert '<option value="EAST" selected>' in row


def test_cx_manager_sees_people_but_cannot_change_them(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("cx")
    html = client.get("/settings/users").text
    assert 'action="/settings/users"' not in html
    assert '<span data-testid="role">单元负责人</span> · 华东区 <code>EAST</code>' in html
    token = csrf_from(html)
    response = client.post(
        "/settings/users",
        data={"csrf_token": token, "email": "new@acme.test", "role": "agent", "unit_code": "SH001"},
    )
    assert response.status_code == 403
    assert count(database_url, "SELECT COUNT(*) FROM users WHERE email = 'new@acme.test'") == 0


def test_admin_adds_a_person_audited(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    response = client.post(
        "/settings/users",
        data={
            "csrf_token": token,
            "email": " Li.Na@Acme.test ",
            "name": "李娜",
            "role": "agent",
            "unit_code": "SH002",
            "password": "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/settings/users?saved=user_created"
    assert scalar(database_url, "SELECT name FROM users WHERE email = 'li.na@acme.test'") == "李娜"
    assert (
        scalar(
            database_url,
            "SELECT m.role || '@' || u.code FROM memberships m JOIN units u ON u.id = m.unit_id "
            "JOIN users p ON p.id = m.user_id WHERE p.email = 'li.na@acme.test'",
        )
        == "agent@SH002"
    )
    assert scalar(database_url, "SELECT password_hash FROM users WHERE email = 'li.na@acme.test'") is None
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.created'") == 7
    page = client.get("/settings/users?saved=user_created").text
    assert '<p class="card success" role="status" data-testid="notice">已添加此人。</p>' in page
    assert 'data-user="li.na@acme.test"' in page


def test_a_tenant_wide_role_keeps_no_unit(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    data = {"csrf_token": token, "email": "boss@acme.test", "role": "cx_manager", "unit_code": "SH001"}
    assert client.post("/settings/users", data=data, follow_redirects=False).status_code == 303
    assert scalar(
        database_url,
        "SELECT m.unit_id IS NULL FROM memberships m JOIN users p ON p.id = m.user_id "
        "WHERE p.email = 'boss@acme.test'",
    ) in (1, True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "", "role": "agent", "unit_code": "SH001"}, "user-email", "请输入此人的邮箱地址。"),
        (
            {"email": "not-an-email", "role": "agent", "unit_code": "SH001"},
            "user-email",
            "请输入有效的邮箱地址。",
        ),
        (
            {"email": "cx@acme.test", "role": "agent", "unit_code": "SH001"},
            "user-email",
            "已有使用此邮箱的账号。",
        ),
        ({"email": "x@acme.test", "role": "agent", "unit_code": ""}, "user-unit", "此角色需要指定单元。"),
        ({"email": "x@acme.test", "role": "agent", "unit_code": "NOPE"}, "user-unit", "请从列表中选择单元。"),
        (
            {"email": "x@acme.test", "role": "owner", "unit_code": "SH001"},
            "user-role",
            "请从列表中选择角色。",
        ),
        (
            {"email": "x@acme.test", "role": "agent", "unit_code": "SH001", "password": "short"},
            "user-password",
            "密码至少需要 10 个字符。",
        ),
    ],
)
def test_refused_person_shows_the_error_at_its_field_and_saves_nothing(  # type: ignore[no-untyped-def]
    signed_in, database_url: str, data: dict[str, str], field: str, message: str
) -> None:
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    users_before = count(database_url, "SELECT COUNT(*) FROM users")
    audit_before = count(database_url, "SELECT COUNT(*) FROM audit_events")
    response = client.post("/settings/users", data={"csrf_token": token, **data})
    assert response.status_code in (409, 422)
    assert field_error(response.text, field) == message
    assert 'role="alert"' in response.text
    # What was typed is kept, except a password.
    if data["email"]:
        assert f'value="{data["email"]}"' in response.text
    assert 'name="password" type="password" value=""' in response.text
    assert count(database_url, "SELECT COUNT(*) FROM users") == users_before
    assert count(database_url, "SELECT COUNT(*) FROM audit_events") == audit_before


def test_a_form_without_its_csrf_token_is_refused(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    response = client.post("/settings/users", data={"email": "x@acme.test", "role": "admin"})
    assert response.status_code == 403
    assert count(database_url, "SELECT COUNT(*) FROM users WHERE email = 'x@acme.test'") == 0


def test_admin_changes_role_and_unit_audited(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    response = client.post(
        f"/settings/users/{org.user_ids['agent']}",
        data={"csrf_token": token, "action": "change", "role": "unit_manager", "unit_code": "GZ001"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (
        scalar(
            database_url,
            "SELECT m.role || '@' || u.code FROM memberships m JOIN units u ON u.id = m.unit_id "
            "WHERE m.user_id = :uid",
            uid=org.user_ids["agent"],
        )
        == "unit_manager@GZ001"
    )
    details = json_of(scalar(database_url, "SELECT details FROM audit_events WHERE action = 'role.changed'"))
    assert details == {"before": [["agent", "SH001"]], "after": ["unit_manager", "GZ001"]}


def test_admin_cannot_demote_themself_and_nothing_changes(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    uid = org.user_ids["admin"]
    response = client.post(
        f"/settings/users/{uid}",
        data={"csrf_token": token, "action": "change", "role": "analyst", "unit_code": "EAST"},
    )
    assert response.status_code == 409
    assert field_error(response.text, f"role-{uid}") == "您不能取消自己的管理员角色。"
    assert scalar(database_url, "SELECT role FROM memberships WHERE user_id = :uid", uid=uid) == "admin"
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'role.changed'") == 0


def test_change_to_a_unit_role_without_unit_is_refused(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    uid = org.user_ids["cx"]
    response = client.post(
        f"/settings/users/{uid}",
        data={"csrf_token": token, "action": "change", "role": "agent", "unit_code": ""},
    )
    assert response.status_code == 422
    assert field_error(response.text, f"unit-{uid}") == "此角色需要指定单元。"
    assert scalar(database_url, "SELECT role FROM memberships WHERE user_id = :uid", uid=uid) == "cx_manager"


def test_deactivate_and_reactivate(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    uid = org.user_ids["store"]
    response = client.post(f"/settings/users/{uid}", data={"csrf_token": token, "action": "disable"})
    assert response.status_code == 200  # followed to the list
    assert scalar(database_url, "SELECT is_active FROM users WHERE id = :uid", uid=uid) in (0, False)
    row = response.text[response.text.index('data-user="store@acme.test"') :].split("</tr>", 1)[0]
    assert '<span data-testid="status">已停用</span>' in row
    client.post(f"/settings/users/{uid}", data={"csrf_token": token, "action": "enable"})
    assert scalar(database_url, "SELECT is_active FROM users WHERE id = :uid", uid=uid) in (1, True)
    actions = count(
        database_url, "SELECT COUNT(*) FROM audit_events WHERE action IN ('user.disabled', 'user.enabled')"
    )
    assert actions == 2


def test_admin_cannot_deactivate_themself(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    uid = org.user_ids["admin"]
    response = client.post(f"/settings/users/{uid}", data={"csrf_token": token, "action": "disable"})
    assert response.status_code == 409
    assert "您不能停用自己的账号。" in response.text
    assert scalar(database_url, "SELECT is_active FROM users WHERE id = :uid", uid=uid) in (1, True)


def test_unknown_person_is_not_found(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    response = client.post(
        "/settings/users/01NOSUCHUSER0000000000000", data={"csrf_token": token, "action": "disable"}
    )
    assert response.status_code == 404


# --- organisation ---------------------------------------------------------------------


def test_organisation_shows_the_tree_in_order_with_details(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("cx").get("/settings/organisation").text
    assert re.findall(r'<tr data-unit="([^"]+)">', html) == [
        "HQ",
        "EAST",
        "SH",
        "SH001",
        "SH002",
        "SOUTH",
        "GZ",
        "GZ001",
    ]
    row = html[html.index('<tr data-unit="SH001">') :].split("</tr>", 1)[0]
    assert 'value="上海南京路店"' in row and 'value="Shanghai Nanjing Rd"' in row
    assert "<td>store</td>" in row and "<td>Asia/Shanghai</td>" in row


def test_add_a_unit_under_a_parent(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("cx")
    token = csrf_from(client.get("/settings/organisation").text)
    response = client.post(
        "/settings/organisation",
        data={
            "csrf_token": token,
            "code": "SH003",
            "parent_code": "SH",
            "name_zh-CN": "上海静安店",
            "name_en": "Shanghai Jing'an",
            "kind": "store",
            "timezone": "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/settings/organisation?saved=unit_created"
    assert scalar(database_url, "SELECT depth FROM units WHERE code = 'SH003'") == 3
    assert scalar(database_url, "SELECT timezone FROM units WHERE code = 'SH003'") == "Asia/Shanghai"
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'unit.created'") == 9
    html = client.get("/settings/organisation").text
    order = re.findall(r'<tr data-unit="([^"]+)">', html)
    assert order.index("SH003") == order.index("SH002") + 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "", "parent_code": "SH", "name_zh-CN": "店"}, "unit-code", "请为单元填写代码。"),
        ({"code": "SH001", "parent_code": "SH", "name_zh-CN": "店"}, "unit-code", "已有使用此代码的单元。"),
        ({"code": "bad code", "parent_code": "SH", "name_zh-CN": "店"}, "unit-code", None),
        ({"code": "SH009", "parent_code": "", "name_zh-CN": "店"}, "unit-parent", "请从列表中选择上级单元。"),
        (
            {"code": "SH009", "parent_code": "NOPE", "name_zh-CN": "店"},
            "unit-parent",
            "请从列表中选择上级单元。",
        ),
        (
            {"code": "SH009", "parent_code": "SH", "name_zh-CN": ""},
            "unit-name-zh-CN",
            "请至少用一种语言为单元命名。",
        ),
        (
            {"code": "SH009", "parent_code": "SH", "name_zh-CN": "店", "timezone": "Mars/Base"},
            "unit-timezone",
            "请使用时区名称，例如 Asia/Shanghai。",
        ),
    ],
)
def test_refused_unit_shows_the_error_at_its_field_and_saves_nothing(  # type: ignore[no-untyped-def]
    signed_in, database_url: str, data: dict[str, str], field: str, message: str | None
) -> None:
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/organisation").text)
    response = client.post("/settings/organisation", data={"csrf_token": token, **data})
    assert response.status_code in (409, 422)
    shown = field_error(response.text, field)
    if message is not None:
        assert shown == message
    assert count(database_url, "SELECT COUNT(*) FROM units") == 8
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'unit.created'") == 8


def test_rename_a_unit_audited_and_refuse_an_empty_name(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/organisation").text)
    response = client.post(
        "/settings/organisation/SH001/rename",
        data={"csrf_token": token, "name_zh-CN": "上海南京东路店", "name_en": "Shanghai East Nanjing Rd"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    names = json_of(scalar(database_url, "SELECT names FROM units WHERE code = 'SH001'"))
    assert names == {"zh-CN": "上海南京东路店", "en": "Shanghai East Nanjing Rd"}
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'unit.updated'") == 1
    refused = client.post(
        "/settings/organisation/SH002/rename", data={"csrf_token": token, "name_zh-CN": "", "name_en": ""}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "rename-SH002-zh-CN") == "请至少用一种语言为单元命名。"
    assert json_of(scalar(database_url, "SELECT names FROM units WHERE code = 'SH002'")) == {
        "zh-CN": "上海徐家汇店",
        "en": "Shanghai Xujiahui",
    }
    assert count(database_url, "SELECT COUNT(*) FROM audit_events WHERE action = 'unit.updated'") == 1
    missing = client.post("/settings/organisation/NOPE/rename", data={"csrf_token": token, "name_en": "x"})
    assert missing.status_code == 404


def test_admin_sets_a_password_and_a_short_one_is_refused(signed_in, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    token = csrf_from(client.get("/settings/users").text)
    uid = org.user_ids["agent"]
    refused = client.post(
        f"/settings/users/{uid}", data={"csrf_token": token, "action": "password", "password": "short"}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, f"password-{uid}") == "密码至少需要 10 个字符。"
    assert scalar(database_url, "SELECT password_hash FROM users WHERE id = :uid", uid=uid) is None
    response = client.post(
        f"/settings/users/{uid}",
        data={"csrf_token": token, "action": "password", "password": "a-long-new-password"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/settings/users?saved=password_set"
    assert scalar(database_url, "SELECT password_hash FROM users WHERE id = :uid", uid=uid).startswith(
        "$argon2"
    )
    client.cookies.clear()
    assert sign_in(client, "agent@acme.test", "a-long-new-password").status_code == 303
