"""A multiple-choice question whose "other" choice takes text: through the API and the respondent form."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.collection.respond_helpers import no_minimum_time, publish, responses, send
from tests.collection.support import choices, t, written
from tests.factories import Org

__all__ = ["no_minimum_time"]

DEFINITION: dict[str, Any] = {
    "title": t("到店", "Visit"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "liked",
                    "type": "multiple_choice",
                    "text": t("喜欢什么", "What did you like"),
                    "choices": choices("staff", "clean", other="other"),
                    "max_picks": 2,
                    "required": True,
                }
            ],
        },
        {
            "id": "p2",
            "display_logic": {"source": "answers", "field": "liked", "op": "contains", "value": "other"},
            "questions": [{"id": "more", "type": "text", "text": t("{{answers.liked}}，还有呢？", "More?")}],
        },
    ],
}


def _post(client: TestClient, org: Org, survey_id: str, answers: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/surveys/{survey_id}/responses", json={"answers": answers}, headers=org.auth("cx")
    )


def test_the_api_takes_text_with_an_other_pick(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org, DEFINITION)
    liked = ["staff", {"choice": "other", "other": "免费停车"}]
    stored = _post(client, org, survey_id, {"liked": liked})
    assert stored.status_code == 201, stored.text
    assert stored.json()["answers"] == {"liked": liked}


def test_the_api_refuses_text_on_a_choice_that_takes_none(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, DEFINITION)
    before = written(database_url)
    cases = [
        (["staff", {"choice": "clean", "other": "x"}], "answers.liked[1].choice"),
        ([{"choice": "other", "other": 5}], "answers.liked[0]"),
        (["staff", 3], "answers.liked[1]"),
        (["other", {"choice": "other", "other": "x"}], "answers.liked"),
        (["staff", "clean", {"choice": "other", "other": "x"}], "answers.liked"),
    ]
    for liked, path in cases:
        refused = _post(client, org, survey_id, {"liked": liked})
        assert refused.status_code == 422, liked
        assert [e["path"] for e in refused.json()["errors"]] == [path], liked
    assert written(database_url) == before


def test_the_form_stores_the_other_text_and_logic_and_piping_see_it(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, DEFINITION)
    first = client.get(f"/s/{survey_id}")
    assert 'name="q.liked.other.other"' in first.text
    picked = {"q.liked": ["staff", "other"], "q.liked.other.other": "停车"}
    second = send(client, survey_id, first.text, picked)
    assert second.status_code == 200, second.text
    assert "staff, 停车，还有呢？" in second.text
    back = send(client, survey_id, second.text, {"nav": "back"})
    assert 'value="停车"' in back.text
    done = send(client, survey_id, back.text, picked)
    done = send(client, survey_id, done.text, {"q.more": "没有了"})
    assert done.status_code == 200, done.text
    ((status, _, answers, _),) = responses(database_url)
    assert status == "complete"
    assert answers == {"liked": ["staff", {"choice": "other", "other": "停车"}], "more": "没有了"}


def test_an_import_joins_the_other_text_to_its_choice(client: TestClient, org: Org) -> None:
    from tests.collection.import_support import csv_text, upload

    survey_id = publish(client, org, DEFINITION)
    table = [
        ["liked", "liked.other_text", "liked.staff", "liked.clean"],
        ["staff", "免费停车", "", ""],
        ["", "", "1", "1"],
        ["", "Wi-Fi", "0", "1"],
        ["unknown", "", "1", ""],
    ]
    result = upload(client, org, survey_id, csv_text(table).encode(), mode="skip_bad_rows")
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["imported"], body["skipped"]) == (3, 1)
    assert [(e["row"], e["path"]) for e in body["errors"]] == [(5, "answers.liked[1]")]
    listed = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    stored = [item["answers"]["liked"] for item in listed]
    assert sorted(stored, key=json.dumps) == sorted(
        [
            ["staff", {"choice": "other", "other": "免费停车"}],
            ["staff", "clean"],
            ["clean", {"choice": "other", "other": "Wi-Fi"}],
        ],
        key=json.dumps,
    )
