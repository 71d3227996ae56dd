"""The customer pages without a browser: list and search, detail, consent form,
segments, journeys and the import, in zh-CN and en, within the caller's scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.customers.support import make_contact, register_types, rows
from tests.factories import Org
from tests.web.conftest import csrf_from, set_password, sign_in


@pytest.fixture
def browser_of(client: TestClient, org: Org, database_url: str) -> Any:
    def as_user(who: str) -> TestClient:
        set_password(database_url, f"{who}@acme.test")
        assert sign_in(client, f"{who}@acme.test").status_code == 303
        return client

    return as_user


def test_list_search_and_detail(client: TestClient, org: Org, browser_of: Any) -> None:
    register_types(client, org, "order_delivered")
    mine = make_contact(
        client,
        org,
        identities={"email": "wang@example.com", "phone": "13800138000"},
        name="王小明",
        unit_code="SH001",
        tags=["vip"],
    )
    make_contact(client, org, identities={"email": "far@example.com"}, name="远方", unit_code="GZ001")
    client.post(
        "/api/v1/events",
        json={
            "id": "e1",
            "type": "order_delivered",
            "contact": {"email": "wang@example.com"},
            "unit_code": "SH001",
        },
        headers=org.auth("cx"),
    )
    page = browser_of("east")
    listed = page.get("/contacts", headers={"Accept-Language": "zh-CN"})
    assert listed.status_code == 200
    assert "王小明" in listed.text and "远方" not in listed.text
    assert "查找联系人" in listed.text
    found = page.get("/contacts", params={"q": "138 0013 8000"})
    assert f'data-contact="{mine["id"]}"' in found.text
    none = page.get("/contacts", params={"q": "nobody@example.com"})
    assert "data-contact=" not in none.text
    bad_unit = page.get("/contacts", params={"unit": "NOPE"})
    assert bad_unit.status_code == 200 and 'role="alert"' in bad_unit.text
    detail = page.get(f"/contacts/{mine['id']}")
    assert detail.status_code == 200
    assert "wang@example.com" in detail.text and "+8613800138000" in detail.text
    assert 'data-kind="event"' in detail.text and "order_delivered" in detail.text
    assert page.get(f"/contacts/{mine['id']}", params={}).headers["cache-control"] == "no-store"


def test_out_of_scope_detail_is_404_and_consent_form(
    client: TestClient, org: Org, browser_of: Any, database_url: str
) -> None:
    far = make_contact(client, org, identities={"email": "far@example.com"}, unit_code="GZ001")
    near = make_contact(client, org, identities={"email": "near@example.com"}, unit_code="SH001")
    page = browser_of("east")
    assert page.get(f"/contacts/{far['id']}").status_code == 404
    detail = page.get(f"/contacts/{near['id']}")
    token = csrf_from(detail.text)
    refused = page.post(
        f"/contacts/{near['id']}/consent", data={"channel": "sms", "granted": "no"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert rows(database_url, "SELECT count(*) FROM consent_records") == [(0,)]
    done = page.post(
        f"/contacts/{near['id']}/consent",
        data={"channel": "sms", "granted": "no", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert rows(database_url, "SELECT channel, granted, source FROM consent_records") == [
        ("sms", False, "staff")
    ]
    assert "已撤回" in page.get(f"/contacts/{near['id']}", headers={"Accept-Language": "zh-CN"}).text


def test_segments_and_journeys_pages(
    client: TestClient, org: Org, browser_of: Any, database_url: str
) -> None:
    make_contact(client, org, identities={"email": "v@example.com"}, unit_code="SH001", tags=["vip"])
    page = browser_of("cx")
    shown = page.get("/segments")
    assert shown.status_code == 200
    token = csrf_from(shown.text)
    counted = page.post(
        "/segments",
        data={
            "csrf_token": token,
            "name": "",
            "filter": '{"conditions": [{"tag": "vip"}]}',
            "action": "preview",
        },
    )
    assert counted.status_code == 200 and 'data-testid="segment-preview"' in counted.text
    bad = page.post("/segments", data={"csrf_token": token, "name": "x", "filter": "{oops", "action": "save"})
    assert bad.status_code == 422
    saved = page.post(
        "/segments",
        data={
            "csrf_token": token,
            "name": "VIP",
            "filter": '{"conditions": [{"tag": "vip"}]}',
            "action": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert rows(database_url, "SELECT name FROM segments") == [("VIP",)]
    journeys = page.get("/journeys")
    created = page.post(
        "/journeys",
        data={
            "csrf_token": csrf_from(journeys.text),
            "key": "purchase",
            "name": "购买",
            "stages": "browse: web_visit\norder: checkout",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    listed = page.get("/journeys", headers={"Accept-Language": "en"})
    assert 'data-journey="purchase"' in listed.text and "checkout" in listed.text


def test_import_page_preview_then_import(
    client: TestClient, org: Org, browser_of: Any, database_url: str
) -> None:
    page = browser_of("cx")
    shown = page.get("/contacts/import")
    token = csrf_from(shown.text)
    data = "email,name\na@example.com,甲\nbad,乙\n".encode()
    preview = page.post(
        "/contacts/import", data={"csrf_token": token, "action": "preview"}, files={"file": ("c.csv", data)}
    )
    assert preview.status_code == 200, preview.text
    packed = preview.text.split('name="packed" value="')[1].split('"')[0]
    refused = page.post("/contacts/import", data={"csrf_token": token, "packed": packed, "action": "import"})
    assert (refused.status_code == 422 and "Row 3" in refused.text) or "第 3 行" in refused.text
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(0,)]
    done = page.post(
        "/contacts/import",
        data={"csrf_token": token, "packed": packed, "action": "import", "mode": "skip_bad_rows"},
    )
    assert done.status_code == 200 and 'data-testid="import-outcome"' in done.text
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(1,)]
    assert page.post("/contacts/import", data={"csrf_token": token, "packed": "garbage"}).status_code == 422


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/contacts", "/segments", "/journeys", "/contacts/import"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
