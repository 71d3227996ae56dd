"""The case inbox pages: lists, detail with answers and timeline, actions,
bulk actions, CSRF, scope, escaping, both languages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cases.support import Clock, open_one, submit, survey
from tests.collection.support import rows
from tests.factories import Org
from tests.web.conftest import csrf_from

SCRIPT = "<script>alert('x')</script>"


def post_form(client: TestClient, path: str, page: str, **data: Any) -> Any:
    token = csrf_from(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_inbox_lists_mine_units_and_overdue_in_chinese(
    client: TestClient, signed_in: Any, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    mine, _ = open_one(database_url, org, title="慢 " + SCRIPT)
    other, _ = open_one(database_url, org, owner_id=org.user_ids["store"], title="另一个")
    signed_in("agent")
    page = client.get("/cases")
    assert page.status_code == 200
    assert f'data-case="{mine}"' in page.text and f'data-case="{other}"' not in page.text
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert "剩余 1 小时 0 分钟" in page.text
    units = client.get("/cases?view=units").text
    assert f'data-case="{mine}"' in units and f'data-case="{other}"' in units
    assert 'data-case="' not in client.get("/cases?view=overdue").text
    clock.advance(minutes=61)
    overdue = client.get("/cases?view=overdue").text
    assert f'data-case="{mine}"' in overdue and "已超时 0 小时 1 分钟" in overdue


def test_detail_shows_answers_escaped_and_acts(
    client: TestClient, signed_in: Any, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    survey_id = survey(client, org)
    response_id = submit(client, org, survey_id, nps=1, why=SCRIPT[:50])
    case_id, _ = open_one(database_url, org, response_id=response_id)
    signed_in("agent")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "推荐" in page.text  # the NPS question's text
    moved = post_form(
        client, f"/cases/{case_id}/act", f"/cases/{case_id}", action="transition", to="acknowledged"
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/cases/{case_id}?saved=1"
    commented = post_form(
        client, f"/cases/{case_id}/act", f"/cases/{case_id}", action="comment", comment=SCRIPT, internal="1"
    )
    assert commented.status_code == 303
    page = client.get(f"/cases/{case_id}?saved=1").text
    assert "已受理" in page and "内部备注" in page and SCRIPT not in page
    refused = post_form(
        client, f"/cases/{case_id}/act", f"/cases/{case_id}", action="transition", to="closed"
    )
    assert refused.headers["location"] == f"/cases/{case_id}?error=transition_not_allowed"
    assert "工单当前状态下不能执行该操作。" in client.get(refused.headers["location"]).text
    assert rows(database_url, "SELECT status FROM cases") == [("acknowledged",)]
    # No CSRF token: nothing happens.
    forged = client.post(
        f"/cases/{case_id}/act", data={"action": "transition", "to": "resolved"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert rows(database_url, "SELECT status FROM cases") == [("acknowledged",)]


def test_bulk_acknowledge_and_assign_from_the_inbox(
    client: TestClient, signed_in: Any, org: Org, database_url: str
) -> None:
    first, _ = open_one(database_url, org)
    second, _ = open_one(database_url, org)
    foreign, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    signed_in("store")
    token = csrf_from(client.get("/cases?view=units").text)
    done = client.post(
        "/cases/bulk",
        data={"csrf_token": token, "view": "units", "action": "acknowledge", "ids": [first, second, foreign]},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/cases?view=units&done=2&total=3"
    assert "已更新 2 / 3 个工单。" in client.get(done.headers["location"]).text
    assigned = client.post(
        "/cases/bulk",
        data={
            "csrf_token": token,
            "view": "units",
            "action": "assign",
            "owner_id": org.user_ids["store"],
            "ids": [first],
        },
        follow_redirects=False,
    )
    assert assigned.headers["location"] == "/cases?view=units&done=1&total=1"
    assert dict(rows(database_url, "SELECT id, status FROM cases")) == {
        first: "acknowledged",
        second: "acknowledged",
        foreign: "new",
    }
    assert rows(database_url, f"SELECT owner_id FROM cases WHERE id = '{first}'") == [
        (org.user_ids["store"],)
    ]


def test_out_of_scope_case_page_is_404_and_english_works(
    client: TestClient, signed_in: Any, org: Org, database_url: str
) -> None:
    foreign, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    mine, _ = open_one(database_url, org)
    signed_in("agent")
    assert client.get(f"/cases/{foreign}").status_code == 404
    client.cookies.set("lang", "en")
    english = client.get(f"/cases/{mine}")
    assert english.status_code == 200
    assert ">Acknowledge</button>" in english.text and "受理" not in english.text


def test_report_page_in_both_languages(
    client: TestClient, signed_in: Any, org: Org, database_url: str
) -> None:
    open_one(database_url, org)
    open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    signed_in("east")
    page = client.get("/cases/report")
    assert page.status_code == 200
    assert '<dd data-testid="report-cases">1</dd>' in page.text and "挽回率" in page.text
    assert '<dd data-testid="report-cases">1</dd>' in client.get("/cases/report?unit=SH001").text
    refused = client.get("/cases/report?unit=GZ001")
    assert refused.status_code == 200 and "alert" in refused.text
    client.cookies.set("lang", "en")
    english = client.get("/cases/report")
    assert "Recovery rate" in english.text and "挽回率" not in english.text


def test_root_cause_and_tags_from_the_case_page(
    client: TestClient, signed_in: Any, org: Org, database_url: str
) -> None:
    made = client.post(
        "/api/v1/case-root-causes",
        json={"code": "wait", "names": {"zh-CN": "排队等候", "en": "Waiting"}},
        headers=org.auth("cx"),
    )
    assert made.status_code == 201
    case_id, _ = open_one(database_url, org)
    signed_in("agent")
    page = client.get(f"/cases/{case_id}").text
    assert '<option value="wait">排队等候</option>' in page
    saved = post_form(
        client,
        f"/cases/{case_id}/act",
        f"/cases/{case_id}",
        action="classify",
        root_cause_code="wait",
        tags="回访， VIP",
    )
    assert saved.headers["location"] == f"/cases/{case_id}?saved=1"
    assert rows(database_url, "SELECT root_cause_code, tags FROM cases")[0][0] == "wait"
    assert "回访, VIP" in client.get(f"/cases/{case_id}").text
    bad = post_form(
        client, f"/cases/{case_id}/act", f"/cases/{case_id}", action="classify", root_cause_code="nope"
    )
    assert bad.headers["location"] == f"/cases/{case_id}?error=unknown_root_cause"
    assert rows(database_url, "SELECT root_cause_code FROM cases") == [("wait",)]
