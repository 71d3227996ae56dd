"""The /alerts page: rules and recent alerts in the reader's scope and language; create
from a preset or JSON (errors with paths), enable and disable; script payloads escaped."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.alerts.support import DETRACTOR, make_survey, rows, rule, submit
from tests.factories import Org
from tests.web.conftest import csrf_from, set_password, sign_in


def _as(client: TestClient, database_url: str, who: str) -> TestClient:
    client.cookies.clear()
    set_password(database_url, f"{who}@acme.test")
    assert sign_in(client, f"{who}@acme.test").status_code == 303
    return client


def test_the_page_lists_rules_and_escaped_alerts_in_both_languages(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey = make_survey(client, org)
    rule(client, org, DETRACTOR, name="<b>Detractor</b>")
    submit(client, org, survey, {"nps": 1, "comment": "<script>alert('x')</script>"})
    page = _as(client, database_url, "store").get("/alerts", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.text
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;Detractor&lt;/b&gt;" in html
    assert "Last 30 days: 1 alerts, 0 of them opened a case." in html
    assert "New rule" not in html  # a store manager may not configure rules
    client.cookies.set("lang", "zh-CN")
    zh = client.get("/alerts", headers={"Accept-Language": "zh-CN"}).text
    assert "最近的预警" in zh


def test_create_from_a_preset_refuse_bad_json_and_toggle(
    client: TestClient, org: Org, database_url: str
) -> None:
    page = _as(client, database_url, "cx")
    token = csrf_from(page.get("/alerts").text)
    created = page.post(
        "/alerts/rules",
        data={"csrf_token": token, "name": "投诉", "preset": "complaint"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert rows(database_url, "SELECT name, kind, enabled FROM alert_rules") == [("投诉", "response", True)]
    bad = page.post(
        "/alerts/rules",
        data={
            "csrf_token": token,
            "name": "x",
            "definition": '{"kind": "response", "condition": {"op": "x"}}',
        },
    )
    assert bad.status_code == 422
    assert "definition.condition.source" in bad.text
    notjson = page.post("/alerts/rules", data={"csrf_token": token, "name": "x", "definition": "{"})
    assert notjson.status_code == 422
    assert rows(database_url, "SELECT count(*) FROM alert_rules") == [(1,)]
    ((rule_id,),) = rows(database_url, "SELECT id FROM alert_rules")
    off = page.post(f"/alerts/rules/{rule_id}/disable", data={"csrf_token": token}, follow_redirects=False)
    assert off.status_code == 303
    assert rows(database_url, "SELECT enabled FROM alert_rules") == [(False,)]
    forged = page.post(f"/alerts/rules/{rule_id}/enable", data={"csrf_token": "nope"}, follow_redirects=False)
    # The boundary refuses a cookie-authenticated write without a valid token before the page runs.
    assert forged.status_code == 403
    assert rows(database_url, "SELECT enabled FROM alert_rules") == [(False,)]
