"""The settings sections over the domains' configuration: channels and the
sending policy, frequency rules, cases, analytics and text. Each good form
stores exactly what the API would; each refused one stores nothing."""

from __future__ import annotations

import pytest

from cxloop.kit.crypto import aad, keyring
from tests.web.conftest import csrf_from, scalar
from tests.web.test_settings import count, field_error, json_of


def sealed_secrets(database_url: str, channel: str) -> object:
    """The channel's secrets as the sending code opens them (they are stored sealed)."""
    where = f"FROM channel_configs WHERE channel = '{channel}'"
    place = aad(
        str(scalar(database_url, f"SELECT tenant_id {where}")),
        "channel_configs",
        "secrets",
        str(scalar(database_url, f"SELECT id {where}")),
    )
    return json_of(keyring().decrypt(str(scalar(database_url, f"SELECT secrets_enc {where}")), place))


def form_client(signed_in, who: str, page: str):  # type: ignore[no-untyped-def]
    client = signed_in(who)
    return client, csrf_from(client.get(page).text)


# --- channels --------------------------------------------------------------------------


def test_channels_page_shows_every_channel_unset(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in("admin").get("/settings/channels").text
    for channel in ("email", "sms", "wechat", "wecom"):
        section = html[html.index(f'data-channel="{channel}"') :].split("</section>", 1)[0]
        assert '<p data-testid="channel-state">未设置</p>' in section
    assert '<label for="cfg-sms-aliyun-access_key_secret">access_key_secret</label>' in html


def test_email_settings_are_stored_and_the_password_never_shown_back(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "cx", "/settings/channels")
    data = {
        "csrf_token": token,
        "provider": "smtp",
        "smtp.host": "smtp.acme.test",
        "smtp.port": "465",
        "smtp.security": "tls",
        "smtp.username": "mailer",
        "smtp.password": "s3cret-pass",
        "smtp.from": "Acme <cx@acme.test>",
        "enabled": "1",
    }
    response = client.post("/settings/channels/email", data=data, follow_redirects=False)
    assert response.status_code == 303
    stored = json_of(scalar(database_url, "SELECT config FROM channel_configs WHERE channel = 'email'"))
    assert stored == {
        "host": "smtp.acme.test",
        "port": 465,
        "security": "tls",
        "username": "mailer",
        "password": "********",
        "from": "Acme <cx@acme.test>",
    }
    assert sealed_secrets(database_url, "email") == {"password": "s3cret-pass"}
    html = client.get("/settings/channels").text
    assert "s3cret-pass" not in html
    assert 'data-secret="set"' in html and "已设置；留空则保持不变。" in html
    assert '<p data-testid="channel-state">使用中 · SMTP 服务器</p>' in html
    # Saved again with the password left empty: the stored one stays.
    data["smtp.password"] = ""
    data["smtp.host"] = "smtp2.acme.test"
    client.post("/settings/channels/email", data=data)
    stored = json_of(scalar(database_url, "SELECT config FROM channel_configs WHERE channel = 'email'"))
    assert stored["host"] == "smtp2.acme.test"  # type: ignore[index]
    assert sealed_secrets(database_url, "email") == {"password": "s3cret-pass"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"provider": "smtp", "smtp.host": ""}, "cfg-email-smtp-host", "此项为必填。"),
        ({"provider": "smtp", "smtp.host": "h", "smtp.port": "99999"}, "cfg-email-smtp-port", None),
        ({"provider": "fax"}, "provider-email", "请从列表中选择服务商。"),
    ],
)
def test_refused_channel_settings_store_nothing(  # type: ignore[no-untyped-def]
    signed_in, database_url: str, data: dict[str, str], field: str, message: str | None
) -> None:
    client, token = form_client(signed_in, "admin", "/settings/channels")
    response = client.post("/settings/channels/email", data={"csrf_token": token, **data})
    assert response.status_code == 422
    shown = field_error(response.text, field)
    assert shown == (message or "请输入 1 至 65535 之间的端口号。")
    assert count(database_url, "SELECT COUNT(*) FROM channel_configs") == 0


def test_sms_needs_every_setting_of_its_provider(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/channels")
    data = {
        "csrf_token": token,
        "provider": "aliyun",
        "aliyun.access_key_id": "AK",
        "aliyun.sign_name": "Acme",
    }
    response = client.post("/settings/channels/sms", data=data)
    assert response.status_code == 422
    assert field_error(response.text, "cfg-sms-aliyun-access_key_secret") == "此项为必填。"
    assert field_error(response.text, "cfg-sms-aliyun-template_code") == "此项为必填。"
    assert 'value="AK"' in response.text
    assert count(database_url, "SELECT COUNT(*) FROM channel_configs") == 0


# --- sending policy and frequency rules -----------------------------------------------


def test_quiet_hours_and_fallback_order_are_saved(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/channels")
    data = {
        "csrf_token": token,
        "quiet_start": "21:30",
        "quiet_end": "08:00",
        "fallback_0": "sms",
        "fallback_1": "email",
        "fallback_2": "-",
        "fallback_3": "-",
    }
    response = client.post("/settings/sending-policy", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert (
        scalar(database_url, "SELECT quiet_start || '-' || quiet_end FROM sending_policies") == "21:30-08:00"
    )
    order = json_of(scalar(database_url, "SELECT fallback_order FROM sending_policies"))
    assert order == ["sms", "email"]
    html = client.get("/settings/channels").text
    assert 'id="quiet-start" name="quiet_start" type="time" value="21:30"' in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"quiet_start": "21:00", "quiet_end": "", "fallback_0": "email"}, "quiet-end", None),
        ({"quiet_start": "25:00", "quiet_end": "08:00", "fallback_0": "email"}, "quiet-start", None),
        ({"fallback_0": "email", "fallback_1": "email"}, "fallback-1", "每个渠道只能出现一次。"),
        ({"fallback_0": "-"}, "fallback-0", "请至少选择一个渠道。"),
        ({"fallback_0": "pigeon"}, "fallback-0", "请从列表中选择渠道。"),
    ],
)
def test_refused_sending_policy_stores_nothing(  # type: ignore[no-untyped-def]
    signed_in, database_url: str, data: dict[str, str], field: str, message: str | None
) -> None:
    client, token = form_client(signed_in, "admin", "/settings/channels")
    response = client.post("/settings/sending-policy", data={"csrf_token": token, **data})
    assert response.status_code == 422
    shown = field_error(response.text, field)
    if message:
        assert shown == message
    elif field == "quiet-end":
        assert shown == "免打扰时段的开始和结束要么都填，要么都不填。"
    else:
        assert shown == "请按 HH:MM 格式输入时间，例如 21:00。"
    assert count(database_url, "SELECT COUNT(*) FROM sending_policies") == 0


def test_frequency_rules_are_added_refused_and_removed(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/channels")
    good = {
        "csrf_token": token,
        "name": "Once a month",
        "channel": "sms",
        "max_count": "1",
        "period_days": "30",
        "attribute": "tier",
        "value": "vip",
    }
    assert client.post("/settings/frequency-rules", data=good, follow_redirects=False).status_code == 303
    row = "SELECT name || '|' || channel || '|' || max_count || '|' || period_days || '|' || attribute"
    assert scalar(database_url, row + " FROM frequency_rules") == "Once a month|sms|1|30|tier"
    html = client.get("/settings/channels").text
    assert "<td>30 天内 1 次</td>" in html
    refused = client.post("/settings/frequency-rules", data={**good, "max_count": "0", "attribute": ""})
    assert refused.status_code == 422
    assert field_error(refused.text, "rule-max") == "请输入 1 至 1000 之间的整数。"
    assert field_error(refused.text, "rule-attribute") == "属性和属性值要么都填，要么都不填。"
    assert count(database_url, "SELECT COUNT(*) FROM frequency_rules") == 1
    rule_id = scalar(database_url, "SELECT id FROM frequency_rules")
    removed = client.post(f"/settings/frequency-rules/{rule_id}/delete", data={"csrf_token": token})
    assert removed.status_code == 200 and "已删除。" in removed.text
    assert count(database_url, "SELECT COUNT(*) FROM frequency_rules") == 0


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/settings/channels/email", {"provider": "smtp", "smtp.host": "h"}),
        ("/settings/sending-policy", {"fallback_0": "email"}),
        ("/settings/frequency-rules", {"name": "x", "max_count": "1", "period_days": "1"}),
        ("/settings/cases/sla/high", {"acknowledge_minutes": "5", "resolve_minutes": "10"}),
        ("/settings/cases/root-causes", {"code": "x", "name_en": "x"}),
        ("/settings/analytics/min-n", {"min_n": "3"}),
        ("/settings/text", {"mask_pii": "1"}),
    ],
)
def test_other_roles_cannot_post_settings(
    signed_in, database_url: str, path: str, data: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "east", "/")
    response = client.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 404
    for table in ("channel_configs", "sending_policies", "frequency_rules", "case_sla_policies"):
        assert count(database_url, f"SELECT COUNT(*) FROM {table}") == 0
    assert count(database_url, "SELECT COUNT(*) FROM case_root_causes") == 0
    assert count(database_url, "SELECT COUNT(*) FROM analytics_tenant_settings") == 0
    assert count(database_url, "SELECT COUNT(*) FROM text_settings") == 0


# --- cases ------------------------------------------------------------------------------


def test_sla_policy_saved_and_refused(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "cx", "/settings/cases")
    data = {
        "csrf_token": token,
        "acknowledge_minutes": "30",
        "resolve_minutes": "480",
        "escalate_every_minutes": "60",
        "business_hours": "1",
    }
    assert client.post("/settings/cases/sla/high", data=data, follow_redirects=False).status_code == 303
    sql = "SELECT acknowledge_minutes || '/' || resolve_minutes || '/' || escalate_every_minutes"
    assert scalar(database_url, sql + " FROM case_sla_policies WHERE priority = 'high'") == "30/480/60"
    refused = client.post("/settings/cases/sla/low", data={**data, "resolve_minutes": "10"})
    assert refused.status_code == 422
    assert field_error(refused.text, "sla-low-resolve") == "解决时限不能早于受理时限。"
    too_often = client.post("/settings/cases/sla/low", data={**data, "escalate_every_minutes": "1"})
    assert field_error(too_often.text, "sla-low-every") == "请输入允许范围内的分钟数（升级间隔至少 5 分钟）。"
    not_number = client.post("/settings/cases/sla/low", data={**data, "acknowledge_minutes": "soon"})
    assert field_error(not_number.text, "sla-low-ack") == "请输入整数分钟数。"
    assert count(database_url, "SELECT COUNT(*) FROM case_sla_policies") == 1
    assert client.post("/settings/cases/sla/whenever", data=data).status_code == 404


def test_root_causes_added_renamed_retired_and_refused(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/cases")
    add = {
        "csrf_token": token,
        "code": "service",
        "parent_code": "",
        "name_zh-CN": "服务",
        "name_en": "Service",
    }
    assert client.post("/settings/cases/root-causes", data=add, follow_redirects=False).status_code == 303
    child = {**add, "code": "service.wait", "parent_code": "service", "name_zh-CN": "等待", "name_en": ""}
    assert client.post("/settings/cases/root-causes", data=child, follow_redirects=False).status_code == 303
    assert (
        scalar(database_url, "SELECT parent_code FROM case_root_causes WHERE code = 'service.wait'")
        == "service"
    )
    duplicate = client.post("/settings/cases/root-causes", data=add)
    assert duplicate.status_code == 422
    assert field_error(duplicate.text, "cause-code") == "已有使用此代码的根因。"
    orphan = client.post("/settings/cases/root-causes", data={**add, "code": "x", "parent_code": "nope"})
    assert field_error(orphan.text, "cause-parent") == "请从列表中选择上级。"
    assert count(database_url, "SELECT COUNT(*) FROM case_root_causes") == 2
    renamed = client.post(
        "/settings/cases/root-causes/service.wait",
        data={"csrf_token": token, "action": "rename", "name_zh-CN": "排队等待", "name_en": "Waiting"},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    names = json_of(scalar(database_url, "SELECT names FROM case_root_causes WHERE code = 'service.wait'"))
    assert names == {"zh-CN": "排队等待", "en": "Waiting"}
    empty = client.post(
        "/settings/cases/root-causes/service.wait",
        data={"csrf_token": token, "action": "rename", "name_zh-CN": "", "name_en": ""},
    )
    assert field_error(empty.text, "cause-service.wait-zh-CN") == "请至少用一种语言填写名称。"
    client.post("/settings/cases/root-causes/service", data={"csrf_token": token, "action": "retire"})
    assert scalar(database_url, "SELECT active FROM case_root_causes WHERE code = 'service'") in (0, False)
    html = client.get("/settings/cases").text
    assert [c for c in ("service", "service.wait") if f'data-cause="{c}"' in html] == [
        "service",
        "service.wait",
    ]


def test_business_calendar_saved_and_refused(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/cases")
    assert "尚未设置日历：SLA 全天候计时。" in client.get("/settings/cases").text
    data = {
        "csrf_token": token,
        "hours_mon": "09:00-12:00, 13:00-18:00",
        "hours_tue": "09:00-18:00",
        "hours_sat": "",
        "holidays": "2027-01-01\n2027-02-06",
        "workdays": "2027-02-14",
    }
    assert client.post("/settings/cases/calendar", data=data, follow_redirects=False).status_code == 303
    hours = json_of(scalar(database_url, "SELECT hours FROM case_calendars WHERE unit_id IS NULL"))
    assert hours == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "18:00"]]}
    holidays = json_of(scalar(database_url, "SELECT holidays FROM case_calendars"))
    assert holidays == ["2027-01-01", "2027-02-06"]
    html = client.get("/settings/cases").text
    assert 'value="09:00-12:00, 13:00-18:00"' in html
    for bad, field, message in (
        (
            {"hours_wed": "nine to five"},
            "hours-wed",
            "请按 09:00-18:00 的格式填写营业时间，多个时段用逗号分隔。",
        ),
        (
            {"hours_wed": "18:00-09:00"},
            "hours-wed",
            "请按 09:00-18:00 的格式填写营业时间，多个时段用逗号分隔。",
        ),
        ({"holidays": "2027-13-01"}, "calendar-holidays", "每行一个日期，格式为 YYYY-MM-DD。"),
    ):
        refused = client.post("/settings/cases/calendar", data={**data, **bad})
        assert refused.status_code == 422
        assert field_error(refused.text, field) == message
    assert json_of(scalar(database_url, "SELECT holidays FROM case_calendars")) == holidays
    assert count(database_url, "SELECT COUNT(*) FROM case_calendars") == 1


# --- analytics and text -------------------------------------------------------------------


def test_anonymity_threshold_saved_and_refused(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "cx", "/settings/analytics")
    response = client.post("/settings/analytics/min-n", data={"csrf_token": token, "min_n": "8"})
    assert response.status_code == 200
    assert 'id="min-n" name="min_n" type="number" value="8"' in response.text
    assert scalar(database_url, "SELECT min_n FROM analytics_tenant_settings") == 8
    for bad in ("0", "1001", "many"):
        refused = client.post("/settings/analytics/min-n", data={"csrf_token": token, "min_n": bad})
        assert refused.status_code == 422
        assert field_error(refused.text, "min-n") == "请输入 1 至 1000 之间的整数。"
    assert scalar(database_url, "SELECT min_n FROM analytics_tenant_settings") == 8


def test_targets_set_refused_and_removed(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/analytics")
    data = {"csrf_token": token, "unit_code": "EAST", "metric": "nps", "value": "45"}
    assert client.post("/settings/analytics/targets", data=data, follow_redirects=False).status_code == 303
    whole = {**data, "unit_code": "", "metric": "csat", "value": "4,5"}
    assert client.post("/settings/analytics/targets", data=whole, follow_redirects=False).status_code == 303
    assert scalar(database_url, "SELECT value FROM analytics_targets WHERE metric = 'nps'") == 45.0
    assert scalar(database_url, "SELECT value FROM analytics_targets WHERE metric = 'csat'") == 4.5
    html = client.get("/settings/analytics").text
    assert 'data-target="EAST:nps"' in html and 'data-target=":csat"' in html
    for bad, field, message in (
        (
            {"metric": "happiness"},
            "target-metric",
            "请从列表中选择指标，或使用 mean:、choices:、custom: 前缀。",
        ),
        ({"value": "lots"}, "target-value", "请输入数字，例如 45 或 4.5。"),
        ({"unit_code": "NOPE"}, "target-unit", "请从列表中选择单元。"),
    ):
        refused = client.post("/settings/analytics/targets", data={**data, "metric": "ces", **bad})
        assert refused.status_code == 422
        assert field_error(refused.text, field) == message
    assert count(database_url, "SELECT COUNT(*) FROM analytics_targets") == 2
    target_id = scalar(database_url, "SELECT id FROM analytics_targets WHERE metric = 'nps'")
    client.post(f"/settings/analytics/targets/{target_id}/delete", data={"csrf_token": token})
    assert count(database_url, "SELECT COUNT(*) FROM analytics_targets") == 1


def test_text_masking_setting_saved_and_audited(signed_in, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client, token = form_client(signed_in, "admin", "/settings/analytics")
    html = client.get("/settings/analytics").text
    assert 'id="mask-pii" type="checkbox" name="mask_pii" value="1" checked' in html
    assert 'id="auto-adapt" type="checkbox" name="auto_adapt" value="1" checked' in html
    response = client.post("/settings/text", data={"csrf_token": token, "keep_original": "1"})
    assert response.status_code == 200
    assert scalar(database_url, "SELECT mask_pii FROM text_settings") in (0, False)
    assert scalar(database_url, "SELECT keep_original FROM text_settings") in (1, True)
    assert scalar(database_url, "SELECT auto_adapt FROM text_settings") in (0, False)
    details = json_of(
        scalar(database_url, "SELECT details FROM audit_events WHERE action = 'text.settings_changed'")
    )
    assert details == {"mask_pii": False, "keep_original": True, "auto_adapt": False}
    assert 'id="mask-pii" type="checkbox" name="mask_pii" value="1">' in response.text
    assert 'id="auto-adapt" type="checkbox" name="auto_adapt" value="1">' in response.text


def test_the_text_card_says_when_sentiment_last_adapted(signed_in, org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    from datetime import UTC, datetime

    from cxloop.kit.db import Database
    from cxloop.text.models import TextModel

    client = signed_in("cx")
    html = client.get("/settings/analytics").text
    assert '<p class="hint" id="adaptation-state">尚未适应。</p>' in html

    async def adapted() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                when = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
                scored = {"terms": {"慢": -1.0}, "intercept": 0.0, "fuse": [1.0, 0.5, 0.0]}
                scored["taught_by"] = {"negative": 106, "positive": 70}
                for kind, params, examples in (
                    ("adapted", {"scored_comments": {"zh": 176}, "english_comments": 0}, 210),
                    ("scored-zh", scored, 176),
                ):
                    row = TextModel(tenant_id=org.tenant_id, kind=kind, params=params)
                    row.examples, row.trained_at = examples, when
                    session.add(row)
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(adapted())
    html = client.get("/settings/analytics").text
    assert (
        '<p class="hint" id="adaptation-state">上次适应于 <time datetime="2026-12-03T09:30:00+00:00">'
        "2026-12-03 09:30</time> UTC: 读取了 210 条评论。 中文情感从 176 条带评分的评论中学习。</p>"
    ) in html
