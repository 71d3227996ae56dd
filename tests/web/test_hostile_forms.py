"""Hostile input that reaches the pages rather than the API (whose bodies the
framework checks): JSON typed into form fields nested thousands deep or with a
number past Python's digit limit, dates at the end of the calendar, unknown
units in a drill-down link, digit look-alikes in counts and control characters
(NUL above all, which SQLite stores and PostgreSQL refuses) in names, rule
attributes, case comments and target metrics. Each is a page error or a 422
problem, never a 500, and nothing is written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.collection.support import make_survey
from tests.factories import Org
from tests.identity.support import assert_problem
from tests.web.conftest import csrf_from, scalar, signed_in  # noqa: F401  (fixture)

DEEP = "[" * 1500 + "]" * 1500
HUGE_NUMBER = '{"n": ' + "7" * 5000 + "}"
HOSTILE_JSON = {"deep": DEEP, "deeper than the parser": "[" * 100_000, "huge number": HUGE_NUMBER}
LAST_DAY_PLUS = "9999-12-31"


def _count(database_url: str, table: str) -> int:
    return int(scalar(database_url, f"SELECT count(*) FROM {table}"))


def _post_trigger(browser: TestClient, token: str, survey_id: str, **fields: str) -> Any:
    form = {"name": "after delivery", "event_type": "order_delivered", "survey_id": survey_id, **fields}
    return browser.post("/triggers", data={"csrf_token": token, **form})


@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_hostile_json_in_a_form_field_is_a_page_error(
    case: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_survey(client, org)
    browser = signed_in("admin")
    text = HOSTILE_JSON[case]
    token = csrf_from(browser.get("/alerts").text)
    rule = browser.post("/alerts/rules", data={"csrf_token": token, "name": "x", "definition": text})
    assert rule.status_code == 422 and "规则定义不是有效的 JSON。" in rule.text
    segment = browser.post(
        "/segments", data={"csrf_token": token, "name": "x", "filter": text, "action": "save"}
    )
    assert segment.status_code == 422 and "筛选条件不是有效的 JSON 条件（请参考示例）。" in segment.text
    trigger = _post_trigger(browser, token, survey_id, delay_minutes="0", conditions=text)
    assert trigger.status_code == 422 and 'data-testid="trigger-error"' in trigger.text
    assert "conditions: not valid JSON: " in trigger.text
    for table in ("alert_rules", "segments", "triggers"):
        assert _count(database_url, table) == 0, table


@pytest.mark.parametrize("delay", ["inf", "1e400", "nan", "soon"])
def test_a_trigger_delay_that_is_not_a_number_of_minutes_is_refused(
    delay: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_survey(client, org)
    browser = signed_in("admin")
    token = csrf_from(browser.get("/triggers").text)
    refused = _post_trigger(browser, token, survey_id, delay_minutes=delay, conditions="[]")
    assert refused.status_code == 422 and "delay_minutes: enter a number of minutes" in refused.text
    assert _count(database_url, "triggers") == 0


def test_a_survey_definition_with_a_5000_digit_number_is_an_editor_error(
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    created = client.post("/api/v1/surveys", json={"template": "post_purchase_csat"}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id = created.json()["id"]
    before = client.get(f"/api/v1/surveys/{survey_id}", headers=org.auth("cx")).json()
    browser = signed_in("cx")
    token = csrf_from(browser.get("/surveys").text)
    saved = browser.post(f"/surveys/{survey_id}/edit", data={"csrf_token": token, "definition": HUGE_NUMBER})
    assert saved.status_code == 422
    assert "<code>definition</code>: 这不是有效的 JSON：数字的位数过多。" in saved.text
    assert client.get(f"/api/v1/surveys/{survey_id}", headers=org.auth("cx")).json() == before


@pytest.mark.parametrize("day", [LAST_DAY_PLUS, "0001-01-01"])
def test_a_day_at_either_end_of_the_calendar_is_refused_by_the_query_apis(
    day: str, client: TestClient, org: Org
) -> None:
    for name in ("date_from", "date_to"):
        body = assert_problem(
            client.post(
                "/api/v1/metrics/query",
                json={"metrics": ["nps"], "filters": {name: day}},
                headers=org.auth("cx"),
            ),
            422,
            "invalid_date",
        )
        assert body["errors"][0] == {
            "path": f"filters.{name}",
            "message": f"{name} must lie between 1900-01-01 and 9998-12-31.",
        }
        for path in ("/api/v1/dashboards/default/data", "/api/v1/dashboards/drill/responses"):
            got = client.get(path, params={name: day}, headers=org.auth("cx"))
            problem = assert_problem(got, 422, "invalid_filters")
            assert [e["path"] for e in problem["errors"]] == [name]


def test_the_last_reportable_day_is_accepted(client: TestClient, org: Org) -> None:
    answered = client.post(
        "/api/v1/metrics/query",
        json={"metrics": ["nps"], "filters": {"date_from": "9998-01-01", "date_to": "9998-12-31"}},
        headers=org.auth("cx"),
    )
    assert answered.status_code == 200, answered.text
    got = client.get(
        "/api/v1/dashboards/default/data", params={"date_to": "9998-12-31"}, headers=org.auth("cx")
    )
    assert got.status_code == 200, got.text


def test_the_dashboard_pages_answer_far_dates_and_bad_units_with_a_notice(
    client: TestClient,
    org: Org,
    signed_in: Any,  # noqa: F811
) -> None:
    browser = signed_in("cx")
    page = browser.get("/dashboards", params={"date_to": LAST_DAY_PLUS, "period": "custom"})
    assert page.status_code == 200 and 'role="alert"' in page.text
    for params in (
        {"unit_code": "no such unit!"},
        {"unit_code": "x" * 500},
        {"unit_code": "SH001", "date_to": LAST_DAY_PLUS},
        {"unit_code": "NOPE"},
    ):
        drill = browser.get("/dashboards/responses", params=params)
        assert drill.status_code == 200, params
    kept = browser.get("/dashboards/responses", params={"unit_code": "SH001", "date_to": LAST_DAY_PLUS})
    [back] = re.findall(r'<a href="/dashboards\?([^"]*)">', kept.text)
    assert "unit_code=SH001" in back.split("&amp;")


def test_the_audit_page_refuses_a_day_past_the_calendar(signed_in: Any) -> None:  # noqa: F811
    browser = signed_in("admin")
    for params in ({"until": LAST_DAY_PLUS}, {"since": "0001-01-01"}):
        page = browser.get("/audit", params=params)
        assert page.status_code == 422, params
    assert browser.get("/audit", params={"until": "9998-12-31"}).status_code == 200


def test_a_unit_name_with_control_characters_is_refused(
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    browser = signed_in("admin")
    before = scalar(database_url, "SELECT names FROM units WHERE code = 'SH001'")
    token = csrf_from(browser.get("/settings/organisation").text)
    for name in ("上海\x00店", "Shanghai\x07"):
        refused = browser.post(
            "/settings/organisation/SH001/rename", data={"csrf_token": token, "name_zh-CN": name}
        )
        assert refused.status_code == 422
    assert scalar(database_url, "SELECT names FROM units WHERE code = 'SH001'") == before
    made = browser.post(
        "/settings/organisation",
        data={"csrf_token": token, "code": "SH009", "name_zh-CN": "新\x00店", "parent_code": "SH"},
    )
    assert made.status_code == 422
    assert _count(database_url, "units WHERE code = 'SH009'") == 0


def test_topic_names_and_keywords_with_control_characters_are_refused(
    client: TestClient, org: Org, database_url: str
) -> None:
    before = _count(database_url, "text_topics")
    for body in (
        {"name": {"zh-CN": "骑手\x00"}},
        {"name": {"zh-CN": "骑手"}, "keywords": {"zh": ["小哥\x00"]}},
        {"name": {"zh-CN": "骑手"}, "exclude": ["\x1b[31m"]},
    ):
        refused = client.post("/api/v1/text/topics", json=body, headers=org.auth("cx"))
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert _count(database_url, "text_topics") == before
    [topic_id] = [
        t["id"] for t in client.get("/api/v1/text/topics", headers=org.auth("cx")).json()["items"][:1]
    ]
    changed = client.patch(
        f"/api/v1/text/topics/{topic_id}", json={"keywords": {"zh": ["a\x00"]}}, headers=org.auth("cx")
    )
    assert changed.status_code == 422


# "²" and "①" pass str.isdigit() but int() refuses them; 5,000 digits pass it too but exceed int()'s limit.
DIGIT_LOOKALIKES = ["²", "①", "٣", "9" * 5000]


@pytest.mark.parametrize("value", DIGIT_LOOKALIKES)
def test_digit_lookalikes_in_settings_forms_are_field_errors(
    value: str,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from tests.web.test_settings import field_error

    browser = signed_in("admin")
    token = csrf_from(browser.get("/settings/channels").text)
    port = browser.post(
        "/settings/channels/email",
        data={"csrf_token": token, "provider": "smtp", "smtp.host": "h", "smtp.port": value},
    )
    assert port.status_code == 422
    assert field_error(port.text, "cfg-email-smtp-port") == "请输入 1 至 65535 之间的端口号。"
    rule = browser.post(
        "/settings/frequency-rules",
        data={"csrf_token": token, "name": "x", "max_count": value, "period_days": "1"},
    )
    assert rule.status_code == 422
    assert field_error(rule.text, "rule-max") == "请输入 1 至 1000 之间的整数。"
    sla = browser.post(
        "/settings/cases/sla/high",
        data={
            "csrf_token": token,
            "acknowledge_minutes": value,
            "resolve_minutes": "60",
            "escalate_every_minutes": "30",
        },
    )
    assert sla.status_code == 422
    # The form keeps the first 10 characters: 5,000 nines arrive as 9999999999, out of range.
    out_of_range = "请输入允许范围内的分钟数（升级间隔至少 5 分钟）。"
    expected = out_of_range if value.isascii() else "请输入整数分钟数。"
    assert field_error(sla.text, "sla-high-ack") == expected
    for table in ("channel_configs", "frequency_rules", "case_sla_policies"):
        assert _count(database_url, table) == 0, table


@pytest.mark.parametrize("value", DIGIT_LOOKALIKES)
def test_digit_lookalikes_in_a_dashboard_refresh_and_metric_queries(
    value: str,
    client: TestClient,
    org: Org,
    signed_in: Any,  # noqa: F811
) -> None:
    browser = signed_in("cx")
    assert browser.get("/dashboards", params={"refresh": value}).status_code == 200
    grouped = client.post(
        "/api/v1/metrics/query",
        json={"metrics": ["nps"], "group_by": [f"unit_level:{value}"]},
        headers=org.auth("cx"),
    )
    assert grouped.status_code == 422, grouped.text
    assert grouped.json()["code"] in ("unknown_group", "validation_failed")
    paged = client.post(
        "/api/v1/metrics/query",
        json={"metrics": ["nps"], "group_by": ["unit"], "cursor": f"o{value}"},
        headers=org.auth("cx"),
    )
    assert paged.status_code == 422, paged.text
    # A cursor of 5,001 characters is refused by the body's length limit before it is read.
    assert paged.json()["code"] == ("invalid_cursor" if len(value) == 1 else "validation_failed")


def _post_campaign(browser: TestClient, token: str, survey_id: str, **fields: str) -> Any:
    form = {"name": "Q4", "survey_id": survey_id, "contact_ids": "c1 c2", "action": "save", **fields}
    return browser.post("/campaigns", data={"csrf_token": token, **form}, follow_redirects=False)


CAMPAIGN_COUNTS = {
    "reminder_after_days": "reminder_after_days: enter a whole number of days from 1 to 365",
    "max_reminders": "max_reminders: enter a whole number of reminders from 0 to 10",
    "link_days": "link_days: enter a whole number of days from 1 to 365",
}


@pytest.mark.parametrize("field", sorted(CAMPAIGN_COUNTS))
@pytest.mark.parametrize("value", ["abc", "١٢", "²", "-1", "1.5", "366", "9" * 5000])
def test_a_campaign_count_that_is_not_a_whole_number_in_range_is_a_form_error(
    field: str,
    value: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_survey(client, org)
    browser = signed_in("cx")
    token = csrf_from(browser.get("/campaigns").text)
    # max_reminders needs reminder_after_days: give it one so the count is the only fault.
    other = {"reminder_after_days": "3"} if field == "max_reminders" else {}
    refused = _post_campaign(browser, token, survey_id, **other, **{field: value})
    assert refused.status_code == 422
    [message] = re.findall(r'data-testid="campaign-error">([^<]*)<', refused.text)
    assert message == CAMPAIGN_COUNTS[field]
    assert _count(database_url, "campaigns") == 0


def test_campaign_counts_at_the_api_limits_are_saved(
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_survey(client, org)
    browser = signed_in("cx")
    token = csrf_from(browser.get("/campaigns").text)
    fields = {"reminder_after_days": "365", "max_reminders": "10", "link_days": "1"}
    saved = _post_campaign(browser, token, survey_id, **fields)
    assert saved.status_code == 303, saved.text
    stored = scalar(
        database_url, "SELECT reminder_after_days || ',' || max_reminders || ',' || link_days FROM campaigns"
    )
    assert stored == "365,10,1"


def test_a_refused_topic_form_on_a_fresh_tenant_writes_no_taxonomy(
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from cxloop.text.default_taxonomy import DEFAULT_TAXONOMY
    from cxloop.text.taxonomy import default_topic_id

    # The default taxonomy is saved on first write; a refused write must not be that first write.
    assert _count(database_url, "text_topics") == 0
    browser = signed_in("cx")
    token = csrf_from(browser.get("/text?tab=taxonomy").text)
    audit_before = _count(database_url, "audit_events")
    default_id = default_topic_id(org.tenant_id, DEFAULT_TAXONOMY[0]["key"])
    refusals = (
        ("/text/topics", {"name_zh": "骑手\x00"}),
        ("/text/topics", {"name_zh": "骑手", "keywords": "小哥\x1b[31m"}),
        ("/text/topics", {"name_zh": "骑手", "parent_id": "NO-SUCH-TOPIC"}),
        (f"/text/topics/{default_id}", {"keywords": "a\x00"}),
        ("/text/topics/NO-SUCH-TOPIC", {"keywords": "骑手"}),
        ("/text/topics/NO-SUCH-TOPIC", {"delete": "yes"}),
    )
    for path, fields in refusals:
        refused = browser.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)
        assert refused.status_code == 303, (path, fields)
        assert refused.headers["location"] == "/text?tab=taxonomy&error=1", (path, fields)
        assert _count(database_url, "text_topics") == 0, (path, fields)
    assert _count(database_url, "audit_events") == audit_before
    changed = browser.post(
        f"/text/topics/{default_id}", data={"csrf_token": token, "keywords": "骑手"}, follow_redirects=False
    )
    assert changed.headers["location"] == "/text?tab=taxonomy&saved=1"
    assert _count(database_url, "text_topics") > 0


# NUL cannot be stored in PostgreSQL but SQLite keeps it; ESC and BEL break pages and exports.
CONTROL_TEXTS = ["ci\x00", "ci\x1b[31m", "c\x07i", "two\nlines"]


def _nul_free_audit(database_url: str) -> None:
    # details is JSON: a NUL in it is written as the escape \u0000 (read as text on either database).
    assert _count(database_url, "audit_events WHERE CAST(details AS TEXT) LIKE '%\\u0000%'") == 0


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_a_token_name_with_control_characters_is_a_field_error(
    text: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    browser = signed_in("admin")
    token = csrf_from(browser.get("/tokens").text)
    tokens_before, audit_before = _count(database_url, "api_tokens"), _count(database_url, "audit_events")
    refused = browser.post("/tokens", data={"csrf_token": token, "name": text, "scopes": "read"})
    assert refused.status_code == 422
    assert '<p class="field-error" id="name-error">名称不能包含控制字符。</p>' in refused.text
    api = client.post("/api/v1/tokens", json={"name": text, "scopes": ["read"]}, headers=org.auth("admin"))
    assert api.status_code == 422, api.text
    assert _count(database_url, "api_tokens") == tokens_before
    assert _count(database_url, "audit_events") == audit_before
    _nul_free_audit(database_url)


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_an_alert_rule_name_with_control_characters_is_refused(
    text: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    browser = signed_in("admin")
    token = csrf_from(browser.get("/alerts").text)
    refused = browser.post("/alerts/rules", data={"csrf_token": token, "name": text, "preset": "detractor"})
    assert refused.status_code == 422
    assert "<li><code>name</code>: 名称不能包含控制字符。</li>" in refused.text
    definition = {"kind": "response", "condition": {"all": [{"field": "nps", "op": "<=", "value": 6}]}}
    api = client.post(
        "/api/v1/alert-rules", json={"name": text, "definition": definition}, headers=org.auth("cx")
    )
    assert_problem(api, 422, "invalid_text")
    assert _count(database_url, "alert_rules") == 0
    saved = browser.post("/alerts/rules", data={"csrf_token": token, "name": "ok", "preset": "detractor"})
    assert saved.status_code == 200 and _count(database_url, "alert_rules") == 1
    [rule_id] = [r["id"] for r in client.get("/api/v1/alert-rules", headers=org.auth("cx")).json()["items"]]
    renamed = client.patch(f"/api/v1/alert-rules/{rule_id}", json={"name": text}, headers=org.auth("cx"))
    assert_problem(renamed, 422, "invalid_text")
    assert scalar(database_url, "SELECT name FROM alert_rules") == "ok"


@pytest.mark.parametrize("field", ["attribute", "value"])
@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_a_frequency_rule_attribute_with_control_characters_is_a_field_error(
    field: str,
    text: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from tests.web.test_settings import field_error

    browser = signed_in("admin")
    token = csrf_from(browser.get("/settings/channels").text)
    form = {"name": "vip", "max_count": "2", "period_days": "30", "attribute": "tier", "value": "gold"}
    refused = browser.post("/settings/frequency-rules", data={"csrf_token": token, **form, field: text})
    assert refused.status_code == 422
    assert field_error(refused.text, f"rule-{field}") == "文本不能包含控制字符。"
    body = {"name": "vip", "max_count": 2, "period_days": 30, "attribute": "tier", "attribute_value": "gold"}
    api = client.post(
        "/api/v1/frequency-rules",
        json={**body, "attribute" if field == "attribute" else "attribute_value": text},
        headers=org.auth("admin"),
    )
    assert api.status_code == 422, api.text
    assert _count(database_url, "frequency_rules") == 0


@pytest.mark.parametrize("text", ["bad\x00", "bad\x1b[31m", "bad\x07"])
def test_a_case_comment_with_control_characters_is_refused(
    text: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from tests.cases.support import open_one

    case_id, _ = open_one(database_url, org)
    browser = signed_in("agent")
    token = csrf_from(browser.get(f"/cases/{case_id}").text)
    entries_before, audit_before = _count(database_url, "case_entries"), _count(database_url, "audit_events")
    for fields in (
        {"action": "comment", "comment": text},
        {"action": "comment", "comment": text, "internal": "1"},
        {"action": "transition", "to": "acknowledged", "comment": text},
        {"action": "classify", "tags": f"slow, {text}"},
    ):
        refused = browser.post(
            f"/cases/{case_id}/act", data={"csrf_token": token, **fields}, follow_redirects=False
        )
        assert refused.status_code == 303, fields
        assert refused.headers["location"] == f"/cases/{case_id}?error=invalid_text", fields
        assert "文本不能包含控制字符（评论可以换行）。" in browser.get(refused.headers["location"]).text
        assert _count(database_url, "case_entries") == entries_before, fields
    assert scalar(database_url, f"SELECT status FROM cases WHERE id = '{case_id}'") == "new"
    assert _count(database_url, "audit_events") == audit_before
    api = client.post(f"/api/v1/cases/{case_id}/comments", json={"body": text}, headers=org.auth("admin"))
    assert api.status_code == 422, api.text
    # A comment is multi-line text: new lines and tabs stay.
    kept = browser.post(
        f"/cases/{case_id}/act",
        data={"csrf_token": token, "action": "comment", "comment": "line one\nline\ttwo"},
        follow_redirects=False,
    )
    assert kept.headers["location"] == f"/cases/{case_id}?saved=1"
    assert (
        scalar(database_url, "SELECT body FROM case_entries WHERE kind = 'comment'") == "line one\nline\ttwo"
    )


@pytest.mark.parametrize("metric", ["mean:why\x00", "custom:x\x1b[31m", "choices:q\x07"])
def test_a_target_metric_with_control_characters_is_a_field_error(
    metric: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from tests.web.test_settings import field_error

    browser = signed_in("admin")
    token = csrf_from(browser.get("/settings/analytics").text)
    audit_before = _count(database_url, "audit_events")
    refused = browser.post(
        "/settings/analytics/targets",
        data={"csrf_token": token, "unit_code": "", "metric": metric, "value": "4"},
    )
    assert refused.status_code == 422
    expected = "请从列表中选择指标，或使用 mean:、choices:、custom: 前缀。"
    assert field_error(refused.text, "target-metric") == expected
    api = client.put(
        "/api/v1/metrics/targets", json={"metric": metric, "value": 4}, headers=org.auth("admin")
    )
    assert_problem(api, 422, "unknown_metric")
    assert _count(database_url, "analytics_targets") == 0
    assert _count(database_url, "audit_events") == audit_before
    _nul_free_audit(database_url)


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_a_person_name_with_control_characters_is_a_field_error(
    text: str,
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    from tests.web.test_settings import field_error

    browser = signed_in("admin")
    token = csrf_from(browser.get("/settings/users").text)
    users_before, audit_before = _count(database_url, "users"), _count(database_url, "audit_events")
    person = {
        "email": "new@acme.test",
        "role": "analyst",
        "unit_code": "SH001",
        "password": "correct-horse-9",
    }
    refused = browser.post("/settings/users", data={"csrf_token": token, **person, "name": text})
    assert refused.status_code == 422
    assert field_error(refused.text, "user-name") == "文本不能包含控制字符。"
    api = client.post("/api/v1/users", json={**person, "name": text}, headers=org.auth("admin"))
    assert api.status_code == 422, api.text
    assert _count(database_url, "users") == users_before
    assert _count(database_url, "audit_events") == audit_before
