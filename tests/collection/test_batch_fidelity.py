"""A batch stores exactly what was sent, and reports each item's faults as that item alone would get them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import make_survey, written
from tests.factories import Org

# COPY's text format gives tab, line breaks, backslash and \N a meaning of their own.
AWKWARD = 'tab\there\nnew line\r\\N back\\slash "quoted" 中文 😀'


def batch(client: TestClient, org: Org, survey_id: str, items: list[Any]) -> Any:
    response = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("cx")
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_a_batch_stores_text_exactly_as_sent(client: TestClient, org: Org) -> None:
    survey_id = make_survey(client, org)
    sent = [
        {
            "answers": {"nps": 8, "via": {"choice": "other", "other": AWKWARD}, "code": "ABC"},
            "touchpoint": "\\N",
            "embedded": {"order_no": "a\\tb \\\\N"},
            "contact": {"external_id": "x\\y"},
        },
        {"answers": {"nps": 10}, "touchpoint": "desk \\ 2", "embedded": {"order_no": 10**400}},
    ]
    results = batch(client, org, survey_id, sent)
    assert [r["status"] for r in results] == [201, 201]
    first, second = (
        client.get(f"/api/v1/responses/{r['id']}", headers=org.auth("cx")).json() for r in results
    )
    assert first["answers"] == sent[0]["answers"]
    assert first["touchpoint"] == "\\N"
    assert first["embedded"] == {"order_no": "a\\tb \\\\N", "region": "cn"}
    assert first["contact"] == {"external_id": "x\\y"}
    assert second["touchpoint"] == "desk \\ 2"
    assert second["unit_code"] is None
    assert second["embedded"] == {"order_no": 10**400, "region": "cn"}


def test_each_item_gets_the_faults_it_would_get_alone(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    items: list[Any] = [
        {"answers": {"nps": 9}},
        {"answers": {"nps": 9}, "channel": "Bad!", "extra": 1},
        {"answers": {"nps": 7}, "touchpoint": "t"},
        {"answers": {"nps": 9}, "contact": {"email": "nope"}, "submitted_at": "yesterday"},
        {"answers": {"nps": 9, "age": 10**400}},
        {"answers": {"nps": 9}, "language": "en"},
    ]
    before = written(database_url)
    results = batch(client, org, survey_id, items)
    ids = [r.pop("id", None) for r in results]
    assert results == [
        {"index": 0, "status": 201},
        {
            "index": 1,
            "status": 422,
            "errors": [
                {"path": "channel", "message": "String should match pattern '^[a-z][a-z0-9_]{0,31}$'"},
                {"path": "extra", "message": "Extra inputs are not permitted"},
            ],
        },
        {"index": 2, "status": 201},
        {
            "index": 3,
            "status": 422,
            "errors": [
                {
                    "path": "submitted_at",
                    "message": "Input should be a valid datetime or date, input is too short",
                },
                {"path": "contact.email", "message": "must be an email address"},
            ],
        },
        {"index": 4, "status": 422, "errors": [{"path": "answers.age", "message": "must be at most 99"}]},
        {"index": 5, "status": 201},
    ]
    assert [i is not None for i in ids] == [True, False, True, False, False, True]
    after = written(database_url)
    assert after["responses"] == before["responses"] + 3
    assert after["outbox_jobs"] == before["outbox_jobs"] + 1
    stored = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    assert sorted((r["id"], r["language"], r["touchpoint"]) for r in stored) == sorted(
        [(ids[0], "zh-CN", None), (ids[2], "zh-CN", "t"), (ids[5], "en", None)]
    )


# A lone surrogate is valid JSON text (an escape) but no UTF-8 text can hold it, so no database can
# store it: the body is refused whole, like malformed JSON. A paired one (an emoji from an ASCII-only
# encoder) is text.
LONE = "\\ud800"
PAIR = "\\ud83d\\ude00"


def post_raw(client: TestClient, org: Org, path: str, body: str) -> Any:
    return client.post(
        path, content=body.encode(), headers={**org.auth("cx"), "Content-Type": "application/json"}
    )


def test_a_lone_surrogate_is_refused_with_its_path_and_nothing_is_stored(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_survey(client, org)
    before = written(database_url)
    one = f"/api/v1/surveys/{survey_id}/responses"
    alone = post_raw(client, org, one, f'{{"answers": {{"nps": 5, "why": "bad {LONE}"}}}}')
    assert alone.status_code == 422, alone.text
    assert alone.headers["content-type"].startswith("application/problem+json")
    assert alone.json()["code"] == "invalid_text"
    assert [(e["path"], e["message"]) for e in alone.json()["errors"]] == [
        ("answers.why", "must be valid Unicode text (it holds a lone surrogate)")
    ]
    items = f'{{"answers": {{"nps": 9}}}}, {{"answers": {{"nps": 9}}, "embedded": {{"order_no": "{LONE}"}}}}'
    whole = post_raw(client, org, f"{one}/batch", f'{{"responses": [{items}]}}')
    assert whole.status_code == 422, whole.text
    assert [e["path"] for e in whole.json()["errors"]] == ["responses.1.embedded.order_no"]
    assert written(database_url) == before

    paired = post_raw(client, org, one, f'{{"answers": {{"nps": 5, "why": "ok {PAIR}"}}}}')
    assert paired.status_code == 201, paired.text
    stored = client.get(f"/api/v1/responses/{paired.json()['id']}", headers=org.auth("cx")).json()
    assert stored["answers"]["why"] == "ok 😀"
