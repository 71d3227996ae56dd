"""The surveys API on both databases: lifecycle, scope, errors, idempotency."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import Org, make_org
from tests.identity.support import count, engine_for
from tests.surveys.support import BASE, definition, t

PROBLEM = "application/problem+json"


def create(
    client: TestClient, org: Org, document: dict[str, Any] | None = None, who: str = "cx"
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/surveys", json={"definition": document or definition()}, headers=org.auth(who)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_get_and_list(client: TestClient, org: Org, database_url: str) -> None:
    created = create(client, org)
    assert {
        k: created[k] for k in ("status", "version", "version_published", "published_version", "unit_code")
    } == {
        "status": "draft",
        "version": 1,
        "version_published": False,
        "published_version": None,
        "unit_code": None,
    }
    assert created["title"] == "门店调研"
    assert created["created_by"] == org.user_ids["cx"]
    assert created["definition"]["pages"][1]["display_logic"] == {
        "source": "answers",
        "field": "nps",
        "op": "le",
        "value": 6,
    }
    fetched = client.get(f"/api/v1/surveys/{created['id']}", headers=org.auth("analyst")).json()
    assert fetched == created
    second = create(client, org)
    first_page = client.get("/api/v1/surveys?limit=1", headers=org.auth("store")).json()
    assert [s["id"] for s in first_page["items"]] == [created["id"]]
    rest = client.get(
        f"/api/v1/surveys?limit=1&cursor={first_page['next_cursor']}", headers=org.auth("store")
    )
    assert [s["id"] for s in rest.json()["items"]] == [second["id"]]
    assert rest.json()["next_cursor"] is None
    assert client.get("/api/v1/surveys?status=published", headers=org.auth("cx")).json()["items"] == []
    assert count(database_url, "surveys") == 2


def test_lifecycle_publish_freezes_and_edit_makes_a_new_version(client: TestClient, org: Org) -> None:
    survey_id = create(client, org)["id"]
    edited = definition(title=t("草稿二", "Draft two"))
    draft = client.put(
        f"/api/v1/surveys/{survey_id}", json={"definition": edited}, headers=org.auth("cx")
    ).json()
    assert (draft["version"], draft["title"]) == (1, "草稿二")

    published = client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).json()
    assert (published["status"], published["version"], published["published_version"]) == ("published", 1, 1)
    again = client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
    assert (again.status_code, again.json()["code"]) == (409, "already_published")

    third = definition(title=t("第三版", "Third"))
    after = client.put(
        f"/api/v1/surveys/{survey_id}", json={"definition": third}, headers=org.auth("cx")
    ).json()
    assert (after["status"], after["version"], after["version_published"], after["published_version"]) == (
        "published",
        2,
        False,
        1,
    )
    versions = client.get(f"/api/v1/surveys/{survey_id}/versions", headers=org.auth("analyst")).json()[
        "items"
    ]
    assert [(v["version"], v["published_at"] is not None) for v in versions] == [(1, True), (2, False)]

    republished = client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).json()
    assert (republished["version"], republished["published_version"]) == (2, 2)
    closed = client.post(f"/api/v1/surveys/{survey_id}/close", headers=org.auth("cx")).json()
    assert closed["status"] == "closed"
    refused = client.put(f"/api/v1/surveys/{survey_id}", json={"definition": third}, headers=org.auth("cx"))
    assert (refused.status_code, refused.json()["code"]) == (409, "survey_closed")
    close_draft = client.post(f"/api/v1/surveys/{create(client, org)['id']}/close", headers=org.auth("cx"))
    assert (close_draft.status_code, close_draft.json()["code"]) == (409, "not_published")


def test_published_version_is_immutable_in_storage(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = create(client, org)["id"]
    client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
    changed = definition(title=t("改", "Changed"))
    client.put(f"/api/v1/surveys/{survey_id}", json={"definition": changed}, headers=org.auth("cx"))
    client.put(f"/api/v1/surveys/{survey_id}", json={"definition": changed}, headers=org.auth("cx"))
    assert count(database_url, "survey_versions") == 2
    with engine_for(database_url) as engine, engine.connect() as conn:
        rows = conn.execute(text("SELECT version, definition FROM survey_versions ORDER BY version")).all()
    titles = [(r[0], (r[1] if isinstance(r[1], dict) else json.loads(r[1]))["title"]["en"]) for r in rows]
    assert titles == [(1, "Store survey"), (2, "Changed")]


def test_duplicate_copies_the_current_definition(client: TestClient, org: Org) -> None:
    original = create(client, org)
    client.post(f"/api/v1/surveys/{original['id']}/publish", headers=org.auth("cx"))
    headers = {**org.auth("cx"), "Idempotency-Key": "dup-1"}
    copy_ = client.post(f"/api/v1/surveys/{original['id']}/duplicate", headers=headers)
    assert copy_.status_code == 201
    body = copy_.json()
    assert (body["status"], body["version"], body["definition"]) == ("draft", 1, original["definition"])
    assert body["id"] != original["id"]
    replay = client.post(f"/api/v1/surveys/{original['id']}/duplicate", headers=headers)
    assert (replay.status_code, replay.json()["id"]) == (200, body["id"])


def test_idempotent_create(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("cx"), "Idempotency-Key": "create-1"}
    first = client.post("/api/v1/surveys", json={"definition": definition()}, headers=headers)
    again = client.post("/api/v1/surveys", json={"definition": definition()}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = definition(title=t("别的", "Other"))
    reused = client.post("/api/v1/surveys", json={"definition": other}, headers=headers)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert count(database_url, "surveys") == 1


def test_invalid_definition_answers_422_with_paths_and_writes_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    document = definition()
    document["pages"][0]["questions"][0]["type"] = "number"
    document["pages"][0]["questions"][0]["min"] = "low"
    response = client.post("/api/v1/surveys", json={"definition": document}, headers=org.auth("cx"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"] == [
        {
            "path": "definition.pages[0].questions[0].min",
            "message": "Input should be a valid number, unable to parse string as a number",
        }
    ]
    survey_id = create(client, org)["id"]
    bad = copy.deepcopy(BASE)
    bad["pages"][1]["questions"][0]["text"]["en"] = "{{embedded.nowhere}}"
    put = client.put(f"/api/v1/surveys/{survey_id}", json={"definition": bad}, headers=org.auth("cx"))
    assert put.json()["errors"] == [
        {
            "path": "definition.pages[1].questions[0].text.en",
            "message": "{{embedded.nowhere}} is not a declared embedded field",
        }
    ]
    neither = client.post("/api/v1/surveys", json={}, headers=org.auth("cx"))
    assert neither.status_code == 422
    assert neither.json()["errors"] == [
        {"path": "body", "message": "Value error, give either definition or template"}
    ]
    assert count(database_url, "surveys") == 1
    assert count(database_url, "survey_versions") == 1


def test_scope_and_permissions(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = create(client, org)["id"]
    for who in ("analyst", "store", "agent", "east"):
        refused = client.post("/api/v1/surveys", json={"definition": definition()}, headers=org.auth(who))
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
        for action in ("publish", "close", "duplicate"):
            assert (
                client.post(f"/api/v1/surveys/{survey_id}/{action}", headers=org.auth(who)).status_code == 403
            )
        put = client.put(
            f"/api/v1/surveys/{survey_id}", json={"definition": definition()}, headers=org.auth(who)
        )
        assert put.status_code == 403
        assert client.get(f"/api/v1/surveys/{survey_id}", headers=org.auth(who)).status_code == 200
    admin = client.post("/api/v1/surveys", json={"definition": definition()}, headers=org.auth("admin"))
    assert admin.status_code == 201
    assert count(database_url, "surveys") == 2

    other = make_org(database_url, slug="other", email_domain="other.test")
    for path in ("", "/versions"):
        missing = client.get(f"/api/v1/surveys/{survey_id}{path}", headers=other.auth("admin"))
        assert (missing.status_code, missing.json()["code"]) == (404, "survey_not_found")
    for action in ("publish", "close", "duplicate"):
        assert (
            client.post(f"/api/v1/surveys/{survey_id}/{action}", headers=other.auth("admin")).status_code
            == 404
        )
    assert client.get("/api/v1/surveys", headers=other.auth("admin")).json()["items"] == []
    assert client.get("/api/v1/surveys/nope", headers=org.auth("cx")).status_code == 404
    assert client.get("/api/v1/surveys").status_code == 401


def test_templates_and_schema(client: TestClient, org: Org) -> None:
    listed = client.get("/api/v1/survey-templates", headers=org.auth("analyst")).json()["items"]
    assert [t["id"] for t in listed] == [
        "relationship_nps",
        "post_purchase_csat",
        "support_ces",
        "servqual_expectations",
        "store_visit",
    ]
    assert listed[0]["title"] == {"zh-CN": "客户关系 NPS 调研", "en": "Relationship NPS survey"}
    made = client.post(
        "/api/v1/surveys", json={"template": "relationship_nps", "language": "en"}, headers=org.auth("cx")
    )
    assert made.status_code == 201
    assert (made.json()["definition"]["default_language"], made.json()["title"]) == (
        "en",
        "Relationship NPS survey",
    )
    unknown = client.post("/api/v1/surveys", json={"template": "nope"}, headers=org.auth("cx"))
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_template"
    wrong_language = client.post(
        "/api/v1/surveys", json={"template": "support_ces", "language": "fr"}, headers=org.auth("cx")
    )
    assert (wrong_language.status_code, wrong_language.json()["code"]) == (422, "unknown_language")

    schema = client.get("/api/v1/schemas/survey", headers=org.auth("analyst"))
    assert schema.status_code == 200
    assert schema.json()["title"] == "cxloop survey definition"
    assert {"title", "languages", "default_language", "pages"} <= set(schema.json()["required"])
    assert "ServqualQuestion" in schema.json()["$defs"]


def test_deeply_nested_definitions_are_refused_not_crashed(
    client: TestClient, org: Org, database_url: str
) -> None:
    condition: dict[str, Any] = {"source": "answers", "field": "nps", "op": "answered"}
    for _ in range(300):
        condition = {"not": condition}
    document = definition()
    document["pages"][1]["display_logic"] = condition
    for method, path in (
        ("POST", "/api/v1/surveys"),
        ("PUT", f"/api/v1/surveys/{create(client, org)['id']}"),
    ):
        response = client.request(method, path, json={"definition": document}, headers=org.auth("cx"))
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["path"] == "definition.pages[1].display_logic" + ".not" * 37
        assert error["message"] == "nested more than 40 levels deep"
    assert count(database_url, "surveys") == 1


def test_owner_unit(client: TestClient, org: Org, database_url: str) -> None:
    body = {"definition": definition(), "unit_code": "SH001"}
    owned = client.post("/api/v1/surveys", json=body, headers=org.auth("cx"))
    assert (owned.status_code, owned.json()["unit_code"]) == (201, "SH001")
    assert (
        client.get(f"/api/v1/surveys/{owned.json()['id']}", headers=org.auth("cx")).json()["unit_code"]
        == "SH001"
    )
    unknown = client.post("/api/v1/surveys", json={**body, "unit_code": "NOPE"}, headers=org.auth("cx"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"path": "unit_code", "message": "No unit 'NOPE'."}]
    assert count(database_url, "surveys") == 1


def test_numbers_json_cannot_hold_are_refused_in_definitions(client: TestClient, org: Org) -> None:
    document = definition()
    document["pages"][0]["questions"].append(
        {"id": "n", "type": "number", "text": t("金额", "Amount"), "min": 1.5}
    )
    document["pages"][1]["display_logic"] = {"source": "answers", "field": "nps", "op": "le", "value": 6.5}
    text = json.dumps({"definition": document})
    headers = {**org.auth("cx"), "content-type": "application/json"}
    for changed, path in (
        (text.replace('"min": 1.5', '"min": NaN'), "definition.pages[0].questions[2].min"),
        (text.replace('"value": 6.5', '"value": Infinity'), "definition.pages[1].display_logic.value"),
    ):
        refused = client.post("/api/v1/surveys", content=changed, headers=headers)
        assert refused.status_code == 422, refused.text
        assert any(e["path"].startswith(path) for e in refused.json()["errors"]), refused.text
    listed = client.get("/api/v1/surveys", headers=org.auth("cx")).json()
    assert listed["items"] == []
