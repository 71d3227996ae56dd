"""Text that did not come from a survey (call-centre notes, complaint letters) is imported as responses
to a one-question survey and analysed like any comment: scoped to its store, masked, with topics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.collection.import_support import csv_text, make_import_survey, upload
from tests.collection.support import rows, t
from tests.factories import Org

CALL_NOTES = {
    "title": t("客服通话记录", "Call notes"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "pages": [
        {
            "id": "p1",
            "questions": [{"id": "note", "type": "text", "text": t("通话内容", "Note"), "required": True}],
        }
    ],
}

# As a call centre's system exports them on Chinese Windows: GB18030, its own column names.
NOTES = [
    ["门店", "通话时间", "手机", "通话内容"],
    [
        "SH001",
        "2026-03-02 09:15",
        "13900001111",
        "客户投诉送餐太慢了，等了两个小时，要打12315，回电13812345678",
    ],
    ["SH002", "2026-03-02 10:40", "", "Customer says the staff were rude and wants a refund"],
]
MAPPING = {"门店": "unit_code", "通话时间": "submitted_at", "手机": "contact.phone", "通话内容": "note"}


def test_imported_call_notes_are_analysed_masked_and_scoped(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org, CALL_NOTES)
    imported = upload(
        client, org, survey_id, csv_text(NOTES).encode("gb18030"), filename="calls.csv", mapping=MAPPING
    )
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["errors"]) == (2, [])

    assert rows(database_url, "SELECT count(*) FROM comment_analyses WHERE original_text IS NULL") == [(2,)]
    everyone = client.get("/api/v1/text/comments", headers=org.auth("cx")).json()["items"]
    # Both responses are created in one import, often in the same millisecond: their ids (and so the
    # list's newest-first order) may then come either way, so the comments are compared by language.
    assert sorted(
        (
            c["language"],
            c["sentiment"],
            c["urgency"],
            c["pii"],
            c["text"],
            [topic["topic_path"] for topic in c["topics"]],
        )
        for c in everyone
    ) == [
        (
            "en",
            "negative",
            [],
            [],
            "Customer says the staff were rude and wants a refund",
            ["服务 > 员工态度", "服务 > 问题解决"],
        ),
        (
            "zh",
            "negative",
            ["regulator"],
            ["mobile"],
            "客户投诉送餐太慢了，等了两个小时，要打12315，回电[PHONE]",
            ["配送 > 配送速度"],
        ),
    ]
    # The store manager of SH001 sees the note of their store only.
    store_view = client.get("/api/v1/text/comments", headers=org.auth("store")).json()["items"]
    assert [(c["survey_id"], c["text"]) for c in store_view] == [
        (survey_id, "客户投诉送餐太慢了，等了两个小时，要打12315，回电[PHONE]")
    ]


def test_a_note_that_fails_a_check_imports_nothing_and_analyses_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org, CALL_NOTES)
    bad = [*NOTES, ["XX999", "2026-03-02 11:00", "", "不存在的门店"]]
    refused = upload(client, org, survey_id, csv_text(bad).encode("gb18030"), mapping=MAPPING)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"row": 4, "column": "门店", "path": "unit_code", "message": "No unit 'XX999'."}
    ]
    assert rows(database_url, "SELECT count(*) FROM responses") == [(0,)]
    assert rows(database_url, "SELECT count(*) FROM comment_analyses") == [(0,)]
