"""The respondent pages on both databases: page by page with partial saves,
skip and display logic, piping escaped, personal links resumed on another
device and completed once, one pipeline job only at completion, and every
refusal (bots, closed, expired, draft, forged) leaving nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.web.pages import respond
from tests.collection.respond_helpers import (
    flow,
    jobs,
    json_rows,
    no_minimum_time,
    personal_links,
    publish,
    responses,
    send,
)
from tests.collection.support import rows, written
from tests.factories import Org
from tests.identity.support import engine_for

__all__ = ["no_minimum_time"]
EN = {"accept-language": "en"}
XSS = "<script>alert('x')</script>"


def listed(client: TestClient, org: Org, survey_id: str, status: str | None = None) -> list[dict[str, Any]]:
    query = f"?status={status}" if status else ""
    answer = client.get(f"/api/v1/surveys/{survey_id}/responses{query}", headers=org.auth("cx"))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def execute(database_url: str, sql: str) -> None:
    from sqlalchemy import text

    with engine_for(database_url) as engine, engine.begin() as conn:
        conn.execute(text(sql))


def test_anonymous_pages_save_partials_and_complete_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    assert first.status_code == 200
    assert '<html lang="en">' in first.text
    assert first.text.count('type="radio" name="q.nps"') == 11
    assert "Not at all" in first.text and "Extremely" in first.text
    assert first.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    assert written(database_url)["responses"] == 0

    second = send(client, survey_id, first.text, {"q.nps": "3", "q.name": XSS})
    assert second.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;, why 3?" in second.text
    assert XSS not in second.text
    assert responses(database_url) == [("partial", "p2", {"nps": 3, "name": XSS}, None)]
    assert jobs(database_url) == []
    assert listed(client, org, survey_id) == []
    partial = listed(client, org, survey_id, "partial")
    assert [(p["status"], p["resume_page"], p["source"], p["channel"]) for p in partial] == [
        ("partial", "p2", "web", "web")
    ]

    third = send(client, survey_id, second.text, {"q.why": "太慢\r\n排队 & <b>久</b>"})
    assert third.status_code == 200
    assert "About " in third.text and 'name="q.ok"' in third.text
    assert jobs(database_url) == []

    done = send(client, survey_id, third.text, {"q.ok": "yes"})
    assert done.status_code == 200
    assert "We will do better." in done.text
    answers = {"nps": 3, "name": XSS, "why": "太慢\n排队 & <b>久</b>", "ok": True}
    assert responses(database_url) == [("complete", None, answers, None)]
    assert jobs(database_url) == [("collection.response_stored", "done")]

    again = send(client, survey_id, third.text, {"q.ok": "yes"})
    assert again.status_code == 200 and "We will do better." in again.text
    assert written(database_url) == {"responses": 1, "outbox_jobs": 1, "idempotency_keys": 0}
    stored = listed(client, org, survey_id)
    assert [(s["status"], s["answers"], s["language"], s["resume_page"]) for s in stored] == [
        ("complete", answers, "en", None)
    ]
    assert listed(client, org, survey_id, "partial") == []
    assert len(listed(client, org, survey_id, "all")) == 1


def test_skip_logic_ends_early_and_display_logic_hides_a_page(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    done = send(client, survey_id, first.text, {"q.nps": "10", "q.name": "<b>Li</b>"})
    assert done.status_code == 200
    assert "Thanks for the love, &lt;b&gt;Li&lt;/b&gt;!" in done.text
    assert responses(database_url) == [("complete", None, {"nps": 10, "name": "<b>Li</b>"}, None)]

    client.cookies.clear()
    first = client.get(f"/s/{survey_id}", headers=EN)
    passive = send(client, survey_id, first.text, {"q.nps": "8"})
    assert 'name="q.ok"' in passive.text and 'name="q.why"' not in passive.text
    finished = send(client, survey_id, passive.text, {})
    assert "Thank you." in finished.text
    assert [r[2] for r in responses(database_url)] == [{"nps": 10, "name": "<b>Li</b>"}, {"nps": 8}]
    assert len(jobs(database_url)) == 2


def test_errors_are_tied_to_their_fields_and_save_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    refused = send(client, survey_id, first.text, {"q.name": "Li"})
    assert refused.status_code == 422
    html = refused.text
    assert 'id="errsum"' in html and 'role="alert"' in html
    assert '<a href="#f-nps">How likely are you to recommend us?: Please answer this question.</a>' in html
    assert 'id="q-nps" aria-describedby="e-nps"' in html
    assert '<p class="q-e" id="e-nps"><span class="vh">Error: </span>Please answer this question.</p>' in html
    assert 'id="f-nps" aria-invalid="true"' in html
    assert 'value="Li"' in html
    assert written(database_url) == {"responses": 0, "outbox_jobs": 0, "idempotency_keys": 0}
    fixed = send(client, survey_id, html, {"q.nps": "3", "q.name": "Li"})
    assert fixed.status_code == 200 and 'name="q.why"' in fixed.text


def test_back_shows_the_previous_page_with_its_answers(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    assert 'value="back"' not in first.text
    second = send(client, survey_id, first.text, {"q.nps": "3", "q.name": "Li"})
    assert 'value="back"' in second.text
    back = send(client, survey_id, second.text, {"nav": "back", "q.why": "ignored"})
    assert back.status_code == 200
    assert 'name="q.nps" value="3" checked' in back.text and 'value="Li"' in back.text
    # A changed answer changes the path: a promoter's next page is p3, and p2's answer is dropped.
    forward = send(client, survey_id, back.text, {"q.nps": "8", "q.name": "Li"})
    assert 'name="q.ok"' in forward.text
    assert responses(database_url) == [("partial", "p3", {"nps": 8, "name": "Li"}, None)]


def test_a_personal_link_resumes_on_another_device_and_completes_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    (link,) = personal_links(
        client,
        org,
        survey_id,
        {
            "contact": {"first_name": "Wei", "email": "wei@example.com"},
            "unit_code": "SH001",
            "channel": "sms",
            "touchpoint": "checkout",
            "language": "en",
            "embedded": {"store_name": "Jing'an <1>"},
        },
    )
    first = client.get(link["path"])
    assert first.status_code == 200 and '<html lang="en">' in first.text
    second = send(client, survey_id, first.text, {"q.nps": "8"})
    assert "About Jing&#39;an &lt;1&gt;" in second.text
    assert responses(database_url) == [("partial", "p3", {"nps": 8}, link["id"])]
    # The language links keep naming the link.
    assert f"?t={link['path'].split('?t=')[1]}&amp;lang=zh-CN" in second.text

    client.cookies.clear()  # another phone
    resumed = client.get(link["path"])
    assert resumed.status_code == 200
    assert 'name="q.ok"' in resumed.text and "About Jing&#39;an &lt;1&gt;" in resumed.text
    done = send(client, survey_id, resumed.text, {"q.ok": "yes"})
    assert "Thank you." in done.text
    assert rows(database_url, "SELECT unit_id, channel, touchpoint, link_id, status FROM responses") == [
        (org.unit_ids["SH001"], "sms", "checkout", link["id"], "complete")
    ]
    assert json_rows(database_url, "SELECT contact_ref, embedded FROM responses") == [
        ({"first_name": "Wei", "email": "wei@example.com"}, {"store_name": "Jing'an <1>"})
    ]
    assert rows(database_url, "SELECT count(*) FROM survey_links WHERE completed_at IS NOT NULL") == [(1,)]

    later = client.get(link["path"])
    assert later.status_code == 200 and "You have already answered this survey" in later.text
    stale = send(client, survey_id, second.text, {"q.ok": "yes"})
    assert "You have already answered this survey" in stale.text
    assert written(database_url)["responses"] == 1
    assert jobs(database_url) == [("collection.response_stored", "done")]
    (stored,) = listed(client, org, survey_id)
    assert (stored["link_id"], stored["unit_code"], stored["contact"]) == (
        link["id"],
        "SH001",
        {"first_name": "Wei", "email": "wei@example.com"},
    )


def test_signed_parameters_set_the_unit_and_forged_ones_are_ignored(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    made = client.post(
        f"/api/v1/surveys/{survey_id}/links/anonymous",
        json={
            "unit_code": "SH002",
            "channel": "qr",
            "touchpoint": "till",
            "embedded": {"store_name": "Xuhui"},
        },
        headers=org.auth("cx"),
    )
    assert made.status_code == 201, made.text
    path = made.json()["path"]
    assert path.startswith(f"/s/{survey_id}?") and "&sig=" in path

    def answer(url: str) -> tuple[Any, ...]:
        client.cookies.clear()
        page = client.get(url, headers=EN)
        assert page.status_code == 200
        third = send(client, survey_id, page.text, {"q.nps": "9"})
        send(client, survey_id, third.text, {})
        return json_rows(
            database_url,
            "SELECT unit_id, channel, touchpoint, embedded FROM responses ORDER BY id DESC LIMIT 1",
        )[0]

    assert answer(path) == (org.unit_ids["SH002"], "qr", "till", {"store_name": "Xuhui"})
    forged = path.replace("Xuhui", "Evil")
    assert answer(forged) == (None, "web", None, {})
    assert answer(f"/s/{survey_id}?unit=SH001&channel=qr") == (None, "web", None, {})
    assert answer(path + "&e.store_name=Extra") == (None, "web", None, {})
    assert answer(path + "&utm_source=wechat") == (
        org.unit_ids["SH002"],
        "qr",
        "till",
        {"store_name": "Xuhui"},
    )


def test_the_honeypot_and_a_too_quick_first_page_leave_nothing(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    bot = send(client, survey_id, first.text, {"q.nps": "9", "website": "http://spam.example"})
    assert bot.status_code == 400 and "We could not accept these answers" in bot.text
    assert written(database_url) == {"responses": 0, "outbox_jobs": 0, "idempotency_keys": 0}

    monkeypatch.setattr(respond, "MIN_SECONDS_FIRST_PAGE", 2.0)
    quick = send(client, survey_id, first.text.replace("", ""), {"q.nps": "9"})
    assert quick.status_code == 422
    assert "Please check your answers, then send them again." in quick.text
    assert 'name="q.nps" value="9" checked' in quick.text
    assert written(database_url) == {"responses": 0, "outbox_jobs": 0, "idempotency_keys": 0}
    monkeypatch.setattr(respond, "MIN_SECONDS_FIRST_PAGE", 0.0)
    assert send(client, survey_id, quick.text, {"q.nps": "9"}).status_code == 200
    assert written(database_url)["responses"] == 1


def test_closed_expired_draft_unknown_and_forged_links_are_polite(
    client: TestClient, org: Org, database_url: str
) -> None:
    draft = publish(client, org, flow(), publish=False)
    answer = client.get(f"/s/{draft}", headers=EN)
    assert answer.status_code == 404 and "This survey is not available" in answer.text
    assert client.get("/s/01NOSUCHSURVEY0000000000000", headers=EN).status_code == 404

    survey_id = publish(client, org, flow())
    (link,) = personal_links(client, org, survey_id, {"expires_at": "2099-01-01T00:00:00Z"})
    forged = client.get(link["path"][:-3] + "abc", headers=EN)
    assert forged.status_code == 404 and "This link is not valid" in forged.text
    execute(database_url, "UPDATE survey_links SET expires_at = '2020-01-01 00:00:00'")
    expired = client.get(link["path"], headers=EN)
    assert expired.status_code == 410 and "This link has expired" in expired.text

    page = client.get(f"/s/{survey_id}", headers=EN)
    assert client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).status_code == 200
    closed = client.get(f"/s/{survey_id}", headers=EN)
    assert closed.status_code == 410 and "This survey has closed" in closed.text
    late = send(client, survey_id, page.text, {"q.nps": "9"})
    assert late.status_code == 410 and "This survey has closed" in late.text
    stale = client.post(f"/s/{survey_id}", data={"ft": "garbage", "q.nps": "9"})
    assert stale.status_code == 410
    assert written(database_url) == {"responses": 0, "outbox_jobs": 0, "idempotency_keys": 0}


def test_a_tampered_form_token_is_refused(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org, flow())
    answer = client.post(f"/s/{survey_id}", data={"ft": "x.y.z", "q.nps": "9"}, headers=EN)
    assert answer.status_code == 400 and "This page has expired" in answer.text
    assert written(database_url)["responses"] == 0


def test_one_response_per_browser(client: TestClient, org: Org, database_url: str) -> None:
    definition = flow()
    definition["settings"] = {"one_response_per_browser": True}
    survey_id = publish(client, org, definition)
    first = client.get(f"/s/{survey_id}", headers=EN)
    send(client, survey_id, first.text, {"q.nps": "10"})
    again = client.get(f"/s/{survey_id}", headers=EN)
    assert again.status_code == 200 and "You have already answered this survey" in again.text
    client.cookies.clear()
    fresh = client.get(f"/s/{survey_id}", headers=EN)
    assert 'name="q.nps"' in fresh.text


def test_an_anonymous_browser_resumes_its_partial(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    send(client, survey_id, first.text, {"q.nps": "8"})
    back_later = client.get(f"/s/{survey_id}?lang=zh-CN")
    assert '<html lang="zh-CN">' in back_later.text and 'name="q.ok"' in back_later.text
    assert "关于" in back_later.text and "提交" in back_later.text
    assert len(responses(database_url)) == 1


def test_languages_fall_back_and_zh_tw_has_its_own_chrome(client: TestClient, org: Org) -> None:
    definition = flow()
    survey_id = publish(client, org, definition)
    tw = client.get(f"/s/{survey_id}", headers={"accept-language": "zh-TW,zh;q=0.8"})
    assert '<html lang="zh-TW">' in tw.text
    assert "門店體驗" in tw.text and "下一頁" in tw.text
    # No zh-TW text for the question: the default language's text is shown.
    assert "您有多大可能推荐我们？" in tw.text
    en = client.get(f"/s/{survey_id}?lang=en")
    assert "Store visit" in en.text and ">Next<" in en.text and 'aria-current="true">English' in en.text
    unknown = client.get(f"/s/{survey_id}?lang=fr", headers={"accept-language": "fr"})
    assert '<html lang="zh-CN">' in unknown.text and "下一页" in unknown.text


def test_the_end_can_redirect(client: TestClient, org: Org, database_url: str) -> None:
    definition = flow()
    definition["redirect_url"] = "https://www.example.com/thanks"
    survey_id = publish(client, org, definition)
    first = client.get(f"/s/{survey_id}", headers=EN)
    done = send(client, survey_id, first.text, {"q.nps": "10"})
    assert done.status_code == 303 and done.headers["location"] == "https://www.example.com/thanks"
    assert responses(database_url)[0][0] == "complete"


def test_a_link_expiring_while_answering(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org, flow())
    (link,) = personal_links(
        client, org, survey_id, {"expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    )
    page = client.get(link["path"], headers=EN)
    execute(database_url, "UPDATE survey_links SET expires_at = '2020-01-01 00:00:00'")
    late = send(client, survey_id, page.text, {"q.nps": "9"})
    assert late.status_code == 410 and "This link has expired" in late.text
    assert written(database_url)["responses"] == 0


def test_a_browser_without_cookies_can_still_answer(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    client.cookies.clear()
    second = send(client, survey_id, first.text, {"q.nps": "8"})
    assert second.status_code == 200 and 'name="q.ok"' in second.text
    done = send(client, survey_id, second.text, {"q.ok": "yes"})
    assert "Thank you." in done.text
    assert rows(database_url, "SELECT status, browser_key FROM responses") == [("complete", None)]


def test_the_status_filter_is_checked(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org, flow())
    answer = client.get(f"/api/v1/surveys/{survey_id}/responses?status=draft", headers=org.auth("cx"))
    assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "query.status"


def test_a_stale_last_page_cannot_finish_past_a_page_the_path_now_needs(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, flow())
    first = client.get(f"/s/{survey_id}", headers=EN)
    last = send(client, survey_id, first.text, {"q.nps": "8"})
    assert 'name="q.ok"' in last.text
    # The first page sent again (another tab) with a detractor's score: p2 is now on the path.
    send(client, survey_id, first.text, {"q.nps": "3"})
    refused = send(client, survey_id, last.text, {"q.ok": "yes"})
    assert refused.status_code == 422
    assert "An earlier page needs an answer before you can finish." in refused.text
    assert 'name="q.why"' in refused.text
    assert responses(database_url) == [("partial", "p2", {"nps": 3}, None)]
    assert jobs(database_url) == []
    finished = send(client, survey_id, refused.text, {"q.why": "slow"})
    assert 'name="q.ok"' in finished.text
