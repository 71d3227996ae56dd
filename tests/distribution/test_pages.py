"""The distribution pages: campaigns (create with audience preview, test
send, launch), triggers, delivery status; in Chinese by default."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.distribution.helpers import configure_email, make_survey, rows
from tests.distribution.support import FakeDirectory
from tests.factories import Org
from tests.web.conftest import csrf_from, signed_in  # noqa: F401  (fixture)


def test_campaign_pages_create_preview_test_send_and_launch(
    client: TestClient,
    org: Org,
    people: FakeDirectory,
    inbox: Any,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contacts = [people.add(email=f"p{i}@example.com") for i in range(2)]
    browser = signed_in("cx")
    page = browser.get("/campaigns")
    assert page.status_code == 200
    assert "<h1>调研活动</h1>" in page.text and "还没有调研活动。" in page.text
    token = csrf_from(page.text)
    form = {"csrf_token": token, "name": "Q4", "survey_id": survey_id, "contact_ids": " ".join(contacts)}

    preview = browser.post("/campaigns", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "受众共有 2 位联系人。" in preview.text
    assert rows(database_url, "SELECT count(*) FROM campaigns") == [(0,)]

    bad = browser.post("/campaigns", data={**form, "contact_ids": "", "action": "save"})
    assert bad.status_code == 422 and 'data-testid="campaign-error"' in bad.text
    assert rows(database_url, "SELECT count(*) FROM campaigns") == [(0,)]

    saved = browser.post("/campaigns", data={**form, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    (campaign_id,) = rows(database_url, "SELECT id FROM campaigns")[0]
    listed = browser.get(saved.headers["location"])
    assert "活动已保存为草稿。" in listed.text and f'data-campaign="{campaign_id}"' in listed.text

    tested = browser.post(f"/campaigns/{campaign_id}/test-send", data={"csrf_token": token})
    assert tested.status_code == 200 and "测试邀请正在发送至 cx@acme.test。" in tested.text
    launched = browser.post(f"/campaigns/{campaign_id}/launch", data={"csrf_token": token})
    assert launched.status_code == 200 and "活动已启动。" in launched.text
    assert sorted(m[1][0] for m in box.messages) == ["cx@acme.test", "p0@example.com", "p1@example.com"]
    again = browser.post(f"/campaigns/{campaign_id}/launch", data={"csrf_token": token})
    assert again.status_code == 409

    deliveries = browser.get("/deliveries")
    assert deliveries.status_code == 200 and "已发送 (2)" in deliveries.text
    assert browser.get("/deliveries?status=sent").text.count('data-status="sent"') == 2
    assert browser.get("/deliveries?status=nonsense").status_code == 200
    assert browser.post("/campaigns", data={**form, "csrf_token": "forged"}).status_code == 403


def test_trigger_page(client: TestClient, org: Org, database_url: str, signed_in: Any) -> None:  # noqa: F811
    survey_id = make_survey(client, org)
    browser = signed_in("admin")
    page = browser.get("/triggers")
    assert "<h1>触发器</h1>" in page.text
    token = csrf_from(page.text)
    form = {
        "csrf_token": token,
        "name": "after delivery",
        "event_type": "order_delivered",
        "survey_id": survey_id,
        "delay_minutes": "120",
        "conditions": '[{"field": "attributes.order_amount", "op": "gt", "value": 100}]',
    }
    broken = browser.post("/triggers", data={**form, "conditions": "[{"})
    assert broken.status_code == 422 and 'data-testid="trigger-error"' in broken.text
    assert browser.post("/triggers", data={**form, "conditions": '[{"op": "gt"}]'}).status_code == 422
    assert rows(database_url, "SELECT count(*) FROM triggers") == [(0,)]
    assert browser.post("/triggers", data=form, follow_redirects=False).status_code == 303
    assert rows(database_url, "SELECT delay_seconds FROM triggers") == [(7200,)]
    assert "order_delivered" in browser.get("/triggers?saved=1").text


def test_pages_need_a_session_and_respect_roles(client: TestClient, org: Org, signed_in: Any) -> None:  # noqa: F811
    assert client.get("/campaigns", follow_redirects=False).status_code == 303
    analyst = signed_in("analyst")
    page = analyst.get("/campaigns")
    assert page.status_code == 200 and "新建活动" not in page.text
    assert "新建触发器" not in analyst.get("/triggers").text
    english = analyst.get("/deliveries", headers={"Accept-Language": "en"})
    assert english.status_code == 200
