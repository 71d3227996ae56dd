"""Survey pages: the list, new from a template, the raw JSON editor with its
inline errors, versions, publish, close and duplicate; who may do what."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org, make_org
from tests.web.conftest import csrf_from, in_thread, scalar

WRITERS = ("admin", "cx")
READERS = ("east", "store", "agent", "analyst")
REDIRECT_TO_EDITOR = re.compile(r"^/surveys/([0-9A-Z]{26})/edit\?created=1$")
FORBIDDEN = "您的角色不允许执行此操作。"
NOT_FOUND = "此地址没有内容，或您无权查看。"


def api_create(client: TestClient, org: Org, template: str = "post_purchase_csat", **extra: Any) -> str:
    response = client.post("/api/v1/surveys", json={"template": template, **extra}, headers=org.auth("cx"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def api_get(client: TestClient, org: Org, survey_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/surveys/{survey_id}", headers=org.auth("cx"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def survey_count(database_url: str) -> int:
    return int(scalar(database_url, "SELECT count(*) FROM surveys"))


def version_count(database_url: str) -> int:
    return int(scalar(database_url, "SELECT count(*) FROM survey_versions"))


def token_of(client: TestClient, path: str = "/surveys") -> str:
    return csrf_from(client.get(path).text)


def save(client: TestClient, survey_id: str, text: str, **headers: str) -> Any:
    token = token_of(client)
    return client.post(
        f"/surveys/{survey_id}/edit",
        data={"csrf_token": token, "definition": text},
        headers=headers,
        follow_redirects=False,
    )


def error_items(html: str) -> list[str]:
    block = re.search(r'<ul class="error-list" data-testid="errors">(.*?)</ul>', html, re.S)
    assert block, "the page lists no errors"
    return re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S)


def problem_of(html: str) -> str:
    found = re.search(r'<p class="alert" role="alert" data-testid="problem">(.*?)</p>', html)
    assert found, "the page shows no problem"
    return found.group(1)


# --- list ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", WRITERS + READERS)
def test_every_role_sees_the_list_with_title_status_version_in_the_page_language(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, who: str
) -> None:
    survey_id = api_create(client, org)
    html = signed_in(who).get("/surveys").text
    assert '<li><a href="/surveys" aria-current="page">问卷</a></li>' in html
    row = re.search(rf'<tr data-survey="{survey_id}">(.*?)</tr>', html, re.S)
    assert row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[1] == '<span class="status status-draft">草稿</span>'
    assert cells[2] == "1"
    if who in WRITERS:
        assert cells[0] == f'<a href="/surveys/{survey_id}/edit">购买后满意度调研</a>'
        assert '<h2 id="new-survey-heading">新建问卷</h2>' in html
        assert 'aria-label="复制“购买后满意度调研”"' in html
    else:
        assert cells[0] == "购买后满意度调研"
        assert "new-survey-heading" not in html
        assert "/duplicate" not in html and "/edit" not in html


def test_list_shows_titles_in_english_and_filters_by_status(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    draft = api_create(client, org, "support_ces")
    published = api_create(client, org, "relationship_nps")
    assert client.post(f"/api/v1/surveys/{published}/publish", headers=org.auth("cx")).status_code == 200
    browser = signed_in("cx")
    browser.cookies.set("lang", "en")
    everything = browser.get("/surveys").text
    assert f'<a href="/surveys/{draft}/edit">Support effort survey</a>' in everything
    assert f'<a href="/surveys/{published}/edit">Relationship NPS survey</a>' in everything
    assert '<span class="status status-published">Published</span>' in everything
    # The published one may be closed; the draft may not.
    assert f'action="/surveys/{published}/close"' in everything
    assert f'action="/surveys/{draft}/close"' not in everything

    only = browser.get("/surveys?status=published").text
    assert f'data-survey="{published}"' in only and f'data-survey="{draft}"' not in only
    assert '<option value="published" selected>Published</option>' in only
    assert "No survey has this status." in browser.get("/surveys?status=closed").text

    bad = browser.get("/surveys?status=archived")
    assert bad.status_code == 422
    assert '<p class="field-error" id="status-error">Choose a status from the list.</p>' in bad.text
    assert "data-survey=" not in bad.text


# --- create, duplicate, close ---------------------------------------------------------


def test_new_survey_from_a_template_in_english_opens_the_editor(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    browser = signed_in("cx")
    response = browser.post(
        "/surveys",
        data={"csrf_token": token_of(browser), "template": "support_ces", "language": "en"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    match = REDIRECT_TO_EDITOR.match(response.headers["location"])
    assert match
    survey = api_get(client, org, match.group(1))
    assert survey["status"] == "draft" and survey["version"] == 1
    assert survey["definition"]["default_language"] == "en"
    assert survey["definition"]["languages"] == ["en", "zh-CN"]
    editor = browser.get(response.headers["location"]).text
    assert '<p class="card success" role="status" data-testid="notice">问卷已创建为草稿。</p>' in editor
    assert '<h1 id="survey-title">客服费力度调研</h1>' in editor


def test_new_blank_survey_has_a_title_in_both_languages(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    browser = signed_in("admin")
    response = browser.post(
        "/surveys",
        data={"csrf_token": token_of(browser), "template": "blank", "language": "zh-CN"},
        follow_redirects=False,
    )
    match = REDIRECT_TO_EDITOR.match(response.headers["location"])
    assert match
    definition = api_get(client, org, match.group(1))["definition"]
    assert definition["title"] == {"zh-CN": "未命名问卷", "en": "Untitled survey"}
    assert definition["languages"] == ["zh-CN", "en"]
    assert [p["id"] for p in definition["pages"]] == ["p1"]
    assert definition["pages"][0]["questions"] == []


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        ({"template": "nope", "language": "en"}, 422, "Choose a template from the list."),
        ({"template": "support_ces", "language": "fr"}, 422, "Choose zh-CN or en as the default language."),
        ({"language": "en"}, 422, "Choose a template from the list."),
    ],
)
def test_new_survey_refuses_unknown_templates_and_languages(  # type: ignore[no-untyped-def]
    signed_in, database_url: str, data: dict[str, str], status: int, text: str
) -> None:
    browser = signed_in("cx")
    response = browser.post(
        "/surveys", data={"csrf_token": token_of(browser), **data}, follow_redirects=False
    )
    assert response.status_code == status
    assert "<h1>部分内容无效</h1>" in response.text and text in response.text
    assert survey_count(database_url) == 0


@pytest.mark.parametrize("who", READERS)
def test_readers_cannot_create_duplicate_close_edit_save_or_publish(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str, who: str
) -> None:
    survey_id = api_create(client, org)
    published = api_create(client, org, "support_ces")
    client.post(f"/api/v1/surveys/{published}/publish", headers=org.auth("cx"))
    before = api_get(client, org, survey_id)
    browser = signed_in(who)
    token = token_of(browser)
    attempts = [
        ("/surveys", {"template": "support_ces", "language": "en"}),
        (f"/surveys/{survey_id}/duplicate", {}),
        (f"/surveys/{published}/close", {}),
        (f"/surveys/{survey_id}/edit", {"definition": json.dumps(before["definition"])}),
        (f"/surveys/{survey_id}/publish", {}),
    ]
    for path, data in attempts:
        response = browser.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403, path
        assert FORBIDDEN in response.text
    editor = browser.get(f"/surveys/{survey_id}/edit")
    assert editor.status_code == 403 and FORBIDDEN in editor.text
    assert survey_count(database_url) == 2 and version_count(database_url) == 2
    assert api_get(client, org, survey_id)["updated_at"] == before["updated_at"]
    assert api_get(client, org, published)["status"] == "published"


def test_forms_without_the_csrf_token_change_nothing(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = api_create(client, org)
    before = api_get(client, org, survey_id)
    browser = signed_in("cx")
    changed = dict(before["definition"], redirect_url="https://example.com/")
    attempts = [
        ("/surveys", {"template": "support_ces", "language": "en"}),
        (f"/surveys/{survey_id}/duplicate", {}),
        (f"/surveys/{survey_id}/edit", {"definition": json.dumps(changed)}),
        (f"/surveys/{survey_id}/publish", {}),
    ]
    for path, data in attempts:
        for token in (None, "forged"):
            body = data if token is None else {"csrf_token": token, **data}
            response = browser.post(path, data=body, follow_redirects=False)
            assert response.status_code == 403, path
            assert "表单已过期。请返回、刷新页面后重试。" in response.text
    assert survey_count(database_url) == 1 and version_count(database_url) == 1
    after = api_get(client, org, survey_id)
    assert after["definition"] == before["definition"] and after["status"] == "draft"


def test_duplicate_makes_a_new_draft_and_close_stops_a_published_survey(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = api_create(client, org)
    browser = signed_in("cx")
    token = token_of(browser)
    copy = browser.post(f"/surveys/{survey_id}/duplicate", data={"csrf_token": token}, follow_redirects=False)
    match = REDIRECT_TO_EDITOR.match(copy.headers["location"])
    assert match and match.group(1) != survey_id
    assert api_get(client, org, match.group(1))["definition"] == api_get(client, org, survey_id)["definition"]
    assert survey_count(database_url) == 2

    # Only a published survey can be closed.
    refused = browser.post(f"/surveys/{survey_id}/close", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 409
    assert api_get(client, org, survey_id)["status"] == "draft"
    client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
    closed = browser.post(f"/surveys/{survey_id}/close", data={"csrf_token": token}, follow_redirects=False)
    assert closed.status_code == 303 and closed.headers["location"] == "/surveys?closed=1"
    assert api_get(client, org, survey_id)["status"] == "closed"
    listing = browser.get("/surveys?closed=1").text
    assert '<p class="card success" role="status">问卷已关闭，不再接收回答。</p>' in listing


# --- editor: access --------------------------------------------------------------------


def test_editor_shows_the_definition_and_the_phone_preview(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    survey_id = api_create(client, org)
    html = signed_in("admin").get(f"/surveys/{survey_id}/edit").text
    textarea = re.search(r'<textarea id="definition" name="definition"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea
    shown = json.loads(textarea.group(1).replace("&#34;", '"').replace("&amp;", "&").replace("&lt;", "<"))
    assert shown == api_get(client, org, survey_id)["definition"]
    assert '<label for="definition">问卷定义（JSON）</label>' in html
    assert (
        f'src="/surveys/{survey_id}/preview?lang=zh-CN&amp;page=1" width="375" height="667"></iframe>' in html
    )
    assert 'title="问卷在手机上的预览"' in html
    assert (
        '<p class="note" id="version-note" data-testid="version-note">版本 1 是草稿；发布之前无人能回答。</p>'
        in html
    )
    assert 'href="/static/editor.css?v=' in html
    # The editor's parts share state through one namespace, so they must load in this order.
    scripts = re.findall(r'<script src="(/static/editor/[a-z]+\.js)\?v=[^"]+" defer></script>', html)
    assert scripts == [
        "/static/editor/document.js",
        "/static/editor/fields.js",
        "/static/editor/conditions.js",
        "/static/editor/editor.js",
    ]
    for script in scripts:
        served = client.get(script)
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
        assert served.text.startswith("// The ")
    assert client.get("/static/editor.js").status_code == 404
    settings = re.search(r'<script type="application/json" id="editor-settings">(.*?)</script>', html, re.S)
    assert settings
    parsed = json.loads(settings.group(1))
    assert parsed["texts"]["add_question"] == "添加题目"
    assert parsed["question_types"][-1] == ["servqual", "SERVQUAL 题项"]
    assert len(parsed["question_types"]) == 16


def test_editor_of_a_missing_or_foreign_survey_is_not_found(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    other = in_thread(make_org, database_url, "other", "other.test")
    foreign = api_create(client, other)
    browser = signed_in("cx")
    token = token_of(browser)
    for survey_id in (foreign, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x" * 300):
        page = browser.get(f"/surveys/{survey_id}/edit")
        assert page.status_code == 404 and NOT_FOUND in page.text
        for action in ("edit", "publish", "duplicate", "close"):
            response = browser.post(
                f"/surveys/{survey_id}/{action}",
                data={"csrf_token": token, "definition": "{}"},
                follow_redirects=False,
            )
            assert response.status_code == 404, action
    assert api_get(client, other, foreign)["status"] == "draft"
    assert survey_count(database_url) == 1


# --- editor: saving ----------------------------------------------------------------------


def test_saving_a_valid_definition_changes_the_draft_in_place(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = api_create(client, org)
    definition = api_get(client, org, survey_id)["definition"]
    definition["title"]["en"] = "After your purchase"
    definition["pages"][0]["questions"].reverse()
    browser = signed_in("cx")
    response = save(browser, survey_id, json.dumps(definition, ensure_ascii=False))
    assert response.status_code == 303
    assert response.headers["location"] == f"/surveys/{survey_id}/edit?saved=1"
    after = api_get(client, org, survey_id)
    assert after["version"] == 1 and after["status"] == "draft"
    assert after["definition"]["title"]["en"] == "After your purchase"
    assert [q["id"] for q in after["definition"]["pages"][0]["questions"]] == ["channel", "aspects", "csat"]
    assert version_count(database_url) == 1
    shown = browser.get(response.headers["location"]).text
    assert '<p class="card success" role="status" data-testid="notice">已保存。</p>' in shown


def test_invalid_json_is_shown_with_its_error_and_changes_nothing(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    survey_id = api_create(client, org)
    before = api_get(client, org, survey_id)
    browser = signed_in("cx")
    response = save(browser, survey_id, '{"title": ')
    assert response.status_code == 422
    assert error_items(response.text) == [
        "<code>definition</code>: 这不是有效的 JSON：Expecting value（第 1 行，第 11 列）。"
    ]
    assert problem_of(response.text) == "未保存：问卷定义有问题，每个问题都列出了其路径。"
    # The text comes back as typed, so nothing is lost.
    assert ">{&#34;title&#34;: </textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    not_a_number = save(browser, survey_id, '{"title": NaN}')
    assert error_items(not_a_number.text) == [
        "<code>definition</code>: 这不是有效的 JSON：NaN 在 JSON 中不是数字。"
    ]
    deep = save(browser, survey_id, "[" * 100_000)
    assert deep.status_code == 422
    assert error_items(deep.text) in (
        ["<code>definition</code>: JSON 嵌套层级过深。"],
        ["<code>definition</code>: 这不是有效的 JSON：Expecting value（第 1 行，第 100001 列）。"],
    )
    empty = save(browser, survey_id, "  ")
    assert empty.status_code == 422
    assert error_items(empty.text) == ["<code>definition</code>: 请以 JSON 格式填写问卷定义。"]
    assert api_get(client, org, survey_id) == before


def test_an_invalid_definition_lists_every_error_with_its_path_and_changes_nothing(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    survey_id = api_create(client, org)
    before = api_get(client, org, survey_id)
    definition = json.loads(json.dumps(before["definition"]))
    definition["pages"][0]["questions"][0]["text"] = {"en": "How satisfied?"}
    definition["pages"][0]["questions"][2]["id"] = "bad id"
    definition["theme"] = {"color": "red"}
    browser = signed_in("cx")
    response = save(browser, survey_id, json.dumps(definition))
    assert response.status_code == 422
    assert error_items(response.text) == [
        "<code>pages[0].questions[2].id</code>: String should match pattern "
        "&#39;^[A-Za-z][A-Za-z0-9_]{0,63}$&#39;",
        "<code>theme.color</code>: String should match pattern &#39;^#[0-9A-Fa-f]{6}$&#39;",
    ]
    # Shape errors come first; once the shape is right, references are checked.
    definition["pages"][0]["questions"][2]["id"] = "channel"
    definition["theme"] = {"color": "#0B6E4F"}
    second = save(browser, survey_id, json.dumps(definition))
    assert error_items(second.text) == [
        "<code>pages[0].questions[0].text</code>: needs text in the default language &#39;zh-CN&#39;"
    ]
    assert '<li data-path="pages[0].questions[0].text">' in second.text
    assert api_get(client, org, survey_id) == before


def test_scripts_get_json_answers_with_errors_by_path(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    survey_id = api_create(client, org)
    before = api_get(client, org, survey_id)
    definition = json.loads(json.dumps(before["definition"]))
    browser = signed_in("cx")
    definition["redirect_url"] = "javascript:alert(1)"
    refused = save(browser, survey_id, json.dumps(definition), accept="application/json")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {
        "status": 422,
        "code": "validation_failed",
        "detail": "未保存：问卷定义有问题，每个问题都列出了其路径。",
        "errors": [{"path": "redirect_url", "message": "must be an http or https URL"}],
    }
    assert api_get(client, org, survey_id) == before

    definition["redirect_url"] = "https://www.example.com/thanks"
    saved = save(browser, survey_id, json.dumps(definition), accept="application/json")
    assert saved.status_code == 200
    body = saved.json()
    assert body["version"] == 1 and body["status"] == "draft" and body["status_label"] == "草稿"
    assert body["can_publish"] is True and body["message"] == "已保存。"
    assert body["version_note"] == "版本 1 是草稿；发布之前无人能回答。"
    assert api_get(client, org, survey_id)["definition"]["redirect_url"] == "https://www.example.com/thanks"


# --- editor: versions and publishing ------------------------------------------------------------


def test_publish_then_save_starts_a_new_draft_version(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = api_create(client, org)
    browser = signed_in("cx")
    token = token_of(browser)
    published = browser.post(
        f"/surveys/{survey_id}/publish", data={"csrf_token": token}, follow_redirects=False
    )
    assert published.status_code == 303
    assert published.headers["location"] == f"/surveys/{survey_id}/edit?published=1"
    page = browser.get(published.headers["location"]).text
    assert "已发布。受访者现在回答此版本。" in page
    assert "版本 1 已发布。保存将创建草稿版本 2；在您再次发布之前，受访者继续回答版本 1。" in page
    assert (
        '<form id="publish-form" class="publish" method="post" action="/surveys/'
        + survey_id
        + '/publish" hidden'
        in page
    )

    again = browser.post(f"/surveys/{survey_id}/publish", data={"csrf_token": token}, follow_redirects=False)
    assert again.status_code == 409
    assert "此版本已发布。修改并保存后会生成新版本。" in again.text

    definition = api_get(client, org, survey_id)["definition"]
    definition["title"]["zh-CN"] = "购买后满意度调研（第二版）"
    response = save(browser, survey_id, json.dumps(definition, ensure_ascii=False), accept="application/json")
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response.json()["status"] == "published"
    assert response.json()["version_note"] == "版本 2 是草稿。在您发布它之前，受访者回答版本 1。"
    survey = api_get(client, org, survey_id)
    assert (survey["version"], survey["version_published"], survey["published_version"]) == (2, False, 1)
    assert version_count(database_url) == 2
    listing = browser.get("/surveys").text
    assert '<td>2 <span class="note">（已发布版本 1）</span></td>' in listing


def test_a_closed_survey_is_read_only(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = api_create(client, org)
    client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
    client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx"))
    before = api_get(client, org, survey_id)
    browser = signed_in("cx")
    page = browser.get(f"/surveys/{survey_id}/edit").text
    assert "此问卷已关闭，不能再修改。如需再用，请复制一份。" in page
    assert "readonly" in page and 'id="save-button"' not in page and 'id="publish-form"' not in page
    response = save(browser, survey_id, json.dumps(before["definition"]))
    assert response.status_code == 409
    assert problem_of(response.text) == "此问卷已关闭，不能再修改。如需再用，请复制一份。"
    as_json = save(browser, survey_id, json.dumps(before["definition"]), accept="application/json")
    assert as_json.status_code == 409 and as_json.json()["code"] == "survey_closed"
    publish = browser.post(
        f"/surveys/{survey_id}/publish", data={"csrf_token": token_of(browser)}, follow_redirects=False
    )
    assert publish.status_code == 409
    assert api_get(client, org, survey_id) == before and version_count(database_url) == 1


def test_the_list_links_to_export_for_readers_and_to_import_for_writers(  # type: ignore[no-untyped-def]
    signed_in, client: TestClient, org: Org
) -> None:
    published = api_create(client, org)
    client.post(f"/api/v1/surveys/{published}/publish", headers=org.auth("cx"))
    draft = api_create(client, org, template="support_ces")
    export = f"/api/v1/surveys/{published}/responses/export?values=labels&amp;language=zh-CN&amp;format="
    for who, imports in (("cx", True), ("east", True), ("analyst", False)):
        listing = signed_in(who).get("/surveys").text
        row = re.search(rf'<tr data-survey="{published}">(.*?)</tr>', listing, re.S)
        assert row is not None, who
        assert f'<a href="{export}csv">CSV</a>' in row.group(1), who
        assert f'<a href="{export}sav">SPSS</a>' in row.group(1), who
        assert (f'<a href="/surveys/{published}/import">导入答卷</a>' in row.group(1)) is imports, who
        draft_row = re.search(rf'<tr data-survey="{draft}">(.*?)</tr>', listing, re.S)
        assert draft_row is not None and "尚未发布" in draft_row.group(1), who
    # The link works with the browser session alone.
    downloaded = signed_in("analyst").get(f"/api/v1/surveys/{published}/responses/export?format=csv")
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"].startswith("text/csv")
