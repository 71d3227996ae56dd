"""POST /api/v1/surveys/{id}/responses/import: every answer kind converted
exactly, all or nothing (nothing left behind), skip bad rows, dry runs,
idempotency keys, and the roles allowed to import."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.collection.imports import service
from tests.collection.import_support import csv_text, make_import_survey, upload
from tests.collection.support import NOT_BACKGROUND, rows, written
from tests.factories import Org

PROBLEM = "application/problem+json"
HEADER = [
    "Would you recommend us?",
    "购买渠道",
    "liked",
    "grid.clean",
    "grid.quiet",
    "sq.expectation",
    "sq.perception",
    "ok",
    "visit",
    "spent",
    "why",
    "门店",
    "提交时间",
    "order_no",
    "email",
]
GOOD = [
    "9",
    "App",
    "价格、店员",
    "1",
    "3分",
    "5",
    "4",
    "是",
    "2026/1/31",
    "12.5",
    "好",
    "SH001",
    "2026-02-01 08:30",
    "A-1",
    "li@example.com",
]
GOOD_2 = [
    "3",
    "store",
    "speed",
    "",
    "",
    "",
    "",
    "no",
    "2026-01-05",
    "7",
    "",
    "SH002",
    "2026-02-02T10:00:00+08:00",
    "",
    "",
]
BAD = [
    "11",
    "nope",
    "price;x",
    "4",
    "",
    "",
    "",
    "maybe",
    "46053",
    "abc",
    "",
    "GZ001",
    "2030-01-01",
    "",
    "bad",
]

BAD_ERRORS = [
    {"row": 3, "column": "Would you recommend us?", "path": "answers.nps", "message": "must be from 0 to 10"},
    {"row": 3, "column": "购买渠道", "path": "answers.via", "message": "'nope' is not one of the choices"},
    {"row": 3, "column": "liked", "path": "answers.liked[1]", "message": "'x' is not one of the choices"},
    {"row": 3, "column": "grid.clean", "path": "answers.grid.clean", "message": "must be one of [1, 2, 3]"},
    {
        "row": 3,
        "column": "ok",
        "path": "answers.ok",
        "message": "'maybe' is not yes or no (yes/no, 是/否, 1/0)",
    },
    {"row": 3, "column": "spent", "path": "answers.spent", "message": "'abc' is not a number"},
    {"row": 3, "column": "门店", "path": "unit_code", "message": "No unit 'GZ001'."},
    {"row": 3, "column": "提交时间", "path": "submitted_at", "message": "may not be in the future"},
    {"row": 3, "column": "email", "path": "contact.email", "message": "must be an email address"},
]


def content(*data: list[str]) -> bytes:
    return csv_text([HEADER, *data]).encode()


def stored(client: TestClient, org: Org, survey_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()
    items = sorted(page["items"], key=lambda item: item["submitted_at"])
    # The fields an import decides; others (ids, arrival time, edit history) belong to other features.
    return [{key: item[key] for key in FIRST} for item in items]


FIRST = {
    "survey_version": 1,
    "unit_code": "SH001",
    "channel": "import",
    "touchpoint": None,
    "language": "zh-CN",
    "submitted_at": "2026-02-01T08:30:00Z",
    "answers": {
        "nps": 9,
        "via": "app",
        "liked": ["price", "staff"],
        "grid": {"clean": 1, "quiet": 3},
        "sq": {"expectation": 5, "perception": 4},
        "ok": True,
        "visit": "2026-01-31",
        "spent": 12.5,
        "why": "好",
    },
    "embedded": {"order_no": "A-1"},
    "contact": {"email": "li@example.com"},
    "source": "import",
    "status": "complete",
}
SECOND = {
    **FIRST,
    "unit_code": "SH002",
    "submitted_at": "2026-02-02T02:00:00Z",
    "answers": {"nps": 3, "via": "store", "liked": ["speed"], "ok": False, "visit": "2026-01-05", "spent": 7},
    "embedded": {},
    "contact": {},
}


def test_import_converts_every_kind_of_answer_and_stores_them_with_their_pipeline_job(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    response = upload(client, org, survey_id, content(GOOD, GOOD_2), who="east")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "mode": "all_or_nothing",
        "dry_run": False,
        "rows": 2,
        "valid": 2,
        "imported": 2,
        "skipped": 0,
        "error_count": 0,
        "errors": [],
        "unmapped": [],
    }
    assert stored(client, org, survey_id) == [FIRST, SECOND]
    # One pipeline job per stored chunk, naming every response in it.
    [(name, status, payload)] = rows(
        database_url, f"SELECT name, status, payload FROM outbox_jobs WHERE {NOT_BACKGROUND}"
    )
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    ids = [r[0] for r in rows(database_url, "SELECT id FROM responses")]
    assert (name, status) == ("collection.response_stored", "done")
    assert sorted(payload["response_ids"]) == sorted(ids)
    assert (payload["survey_id"], payload["tenant_id"], len(ids)) == (survey_id, org.tenant_id, 2)


def test_all_or_nothing_refuses_the_whole_file_and_leaves_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    response = upload(
        client, org, survey_id, content(GOOD, BAD, GOOD_2), who="east", headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "import_rows_invalid"
    assert body["detail"] == "1 of 3 rows are not valid, so nothing was imported; see errors."
    assert body["errors"] == BAD_ERRORS
    assert (body["rows"], body["valid"], body["imported"], body["skipped"], body["error_count"]) == (
        3,
        2,
        0,
        0,
        9,
    )
    assert written(database_url) == before
    assert stored(client, org, survey_id) == []


def test_skip_bad_rows_imports_the_good_ones_and_reports_the_rest(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    response = upload(client, org, survey_id, content(GOOD, BAD, GOOD_2), who="east", mode="skip_bad_rows")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "mode": "skip_bad_rows",
        "dry_run": False,
        "rows": 3,
        "valid": 2,
        "imported": 2,
        "skipped": 1,
        "error_count": 9,
        "errors": BAD_ERRORS,
        "unmapped": [],
    }
    assert stored(client, org, survey_id) == [FIRST, SECOND]
    assert written(database_url)["outbox_jobs"] == 1


@pytest.mark.parametrize("mode", ["all_or_nothing", "skip_bad_rows"])
def test_a_dry_run_lists_the_errors_and_writes_nothing(
    client: TestClient, org: Org, database_url: str, mode: str
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    response = upload(client, org, survey_id, content(GOOD, BAD), who="east", mode=mode, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "mode": mode,
        "dry_run": True,
        "rows": 2,
        "valid": 1,
        "imported": 0,
        "skipped": 1 if mode == "skip_bad_rows" else 0,
        "error_count": 9,
        "errors": BAD_ERRORS,
        "unmapped": [],
    }
    assert written(database_url) == before


def test_an_idempotency_key_replays_the_first_import(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_import_survey(client, org)
    key = {"Idempotency-Key": "import-1"}
    first = upload(client, org, survey_id, content(GOOD), who="east", headers=key)
    assert first.status_code == 200, first.text
    again = upload(client, org, survey_id, content(GOOD), who="east", headers=key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert written(database_url) == {"responses": 1, "outbox_jobs": 1, "idempotency_keys": 1}
    other = upload(client, org, survey_id, content(GOOD_2), who="east", headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert written(database_url) == {"responses": 1, "outbox_jobs": 1, "idempotency_keys": 1}


def test_big_files_are_stored_in_chunks_within_one_transaction(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CHUNK_ROWS", 7)
    survey_id = make_import_survey(client, org)
    lines = [["nps", "门店", "提交时间"]] + [
        [str(i % 11), "SH001", f"2026-01-{1 + i % 28:02d} 09:00"] for i in range(30)
    ]
    response = upload(client, org, survey_id, csv_text(lines).encode(), who="east")
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 30
    # Chunks of 7: 7, 7, 7, 7 and 2 rows, each with its job.
    assert written(database_url) == {"responses": 30, "outbox_jobs": 5, "idempotency_keys": 0}
    assert rows(database_url, "SELECT count(*) FROM responses WHERE source = 'import'") == [(30,)]

    # A bad last row refuses every chunk before it as well.
    lines.append(["12", "SH001", "2026-01-01"])
    refused = upload(client, org, survey_id, csv_text(lines).encode(), who="east")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"row": 32, "column": "nps", "path": "answers.nps", "message": "must be from 0 to 10"}
    ]
    assert written(database_url) == {"responses": 30, "outbox_jobs": 5, "idempotency_keys": 0}


def test_who_may_import(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    for who in ("agent", "analyst"):
        denied = upload(client, org, survey_id, content(GOOD), who=who)
        assert denied.status_code == 403, who
        assert denied.json()["code"] == "permission_denied"
    # A store manager imports for their own store only; other units are "no unit", like the API.
    store = upload(client, org, survey_id, content(GOOD, GOOD_2), who="store")
    assert store.status_code == 422
    assert store.json()["errors"] == [
        {"row": 3, "column": "门店", "path": "unit_code", "message": "No unit 'SH002'."}
    ]
    assert written(database_url) == before
    missing = upload(client, org, "01ARZ3NDEKTSV4RRFFQ69G5FAV", content(GOOD), who="cx")
    assert (missing.status_code, missing.json()["code"]) == (404, "survey_not_found")
    draft = make_import_survey(client, org, publish=False)
    refused = upload(client, org, draft, content(GOOD), who="cx")
    assert (refused.status_code, refused.json()["code"]) == (409, "survey_not_published")
    unauthenticated = client.post(
        f"/api/v1/surveys/{survey_id}/responses/import", files={"file": ("a.csv", content(GOOD), "text/csv")}
    )
    assert unauthenticated.status_code == 401
    assert written(database_url) == before


def test_required_questions_and_rows_without_unit_follow_the_api_rules(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    lines = [["nps", "why", "门店"], ["", "只有原因", "SH001"], ["8", "", ""]]
    response = upload(client, org, survey_id, csv_text(lines).encode(), who="east", mode="skip_bad_rows")
    assert response.status_code == 200, response.text
    assert response.json()["errors"] == [
        {"row": 2, "column": "nps", "path": "answers.nps", "message": "is required"},
        {
            "row": 3,
            "column": "门店",
            "path": "unit_code",
            "message": "is required: you may record responses for your units only",
        },
    ]
    assert response.json()["imported"] == 0
    # Tenant-wide importers may leave the unit out, as with the API.
    tenant_wide = upload(client, org, survey_id, csv_text(lines[:1] + lines[2:]).encode(), who="cx")
    assert tenant_wide.json()["imported"] == 1
    assert written(database_url)["responses"] == 1


def test_columns_no_target_takes_are_reported_as_unmapped(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    lines = [["nps", "QID99", "门店"], ["7", "whatever", "SH001"]]
    response = upload(client, org, survey_id, csv_text(lines).encode(), who="east", dry_run=True)
    assert response.json()["unmapped"] == ["QID99"]
    # Naming it in the mapping is refused: the survey has no such question.
    refused = upload(client, org, survey_id, csv_text(lines).encode(), who="east", mapping={"QID99": "QID99"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"path": "mapping.QID99", "message": "'QID99' is not a question or field of this survey"}
    ]
    assert written(database_url)["responses"] == 0
