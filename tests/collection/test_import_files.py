"""What files the response import reads (encodings, delimiters, XLSX cells,
Excel dates, Qualtrics exports), the preview, the mapping, and how damaged,
foreign or oversized files are refused with nothing written."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.collection import import_routes
from cxloop.collection.imports import reading
from tests.collection.import_support import (
    csv_text,
    make_import_survey,
    qualtrics_header,
    upload,
    xlsx_bytes,
)
from tests.collection.support import t, written
from tests.factories import Org

QUALTRICS_SAMPLE = Path(__file__).parents[3] / "shared/data/responses/qualtrics-qualtRics/sample.csv"
# The samples live beside the repository (../shared), not in it; a clone elsewhere has none.
needs_samples = pytest.mark.skipif(
    not QUALTRICS_SAMPLE.is_file(), reason=f"sample responses not found at {QUALTRICS_SAMPLE}"
)


def imported(client: TestClient, org: Org, survey_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()
    return sorted(
        (
            {"answers": i["answers"], "submitted_at": i["submitted_at"], "unit_code": i["unit_code"]}
            for i in page["items"]
        ),
        key=lambda item: item["submitted_at"],
    )


CHINESE = [
    ["推荐意愿", "购买渠道", "喜欢什么", "门店", "提交时间"],
    ["10", "门店", "价格，速度", "SH001", "2026年1月31日 09:15"],
]
CHINESE_STORED = [
    {
        "answers": {"nps": 10, "via": "store", "liked": ["price", "speed"]},
        "submitted_at": "2026-01-31T01:15:00Z",
        "unit_code": "SH001",
    }
]


@pytest.mark.parametrize(
    ("encoded", "encoding", "delimiter"),
    [
        (csv_text(CHINESE).encode("utf-8"), "utf-8", ","),
        (b"\xef\xbb\xbf" + csv_text(CHINESE).encode("utf-8"), "utf-8-sig", ","),
        (csv_text(CHINESE, ";").encode("gb18030"), "gb18030", ";"),
        (csv_text(CHINESE, "\t").encode("utf-16"), "utf-16", "\t"),
    ],
    ids=["utf-8", "bom", "gb18030-semicolon", "utf-16-tab"],
)
def test_encodings_and_delimiters(
    client: TestClient, org: Org, encoded: bytes, encoding: str, delimiter: str
) -> None:
    survey_id = make_import_survey(client, org)
    preview = upload(client, org, survey_id, encoded, preview=True, timezone="Asia/Shanghai")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["format"], body["encoding"], body["delimiter"], body["layout"]) == (
        "csv",
        encoding,
        delimiter,
        "plain",
    )
    assert body["mapping"] == {
        "推荐意愿": "answers.nps",
        "购买渠道": "answers.via",
        "喜欢什么": "answers.liked",
        "门店": "unit_code",
        "提交时间": "submitted_at",
    }
    response = upload(client, org, survey_id, encoded, timezone="Asia/Shanghai")
    assert response.status_code == 200, response.text
    assert imported(client, org, survey_id) == CHINESE_STORED


def test_xlsx_cells_excel_dates_and_numbers(client: TestClient, org: Org) -> None:
    survey_id = make_import_survey(client, org)
    workbook = xlsx_bytes(
        [
            ["NPS", "Visit date", "spent", "ok", "unit_code", "RecordedDate", "order_no", "phone"],
            [
                9,
                datetime(2026, 1, 31, 0, 0),
                12.5,
                True,
                "SH001",
                datetime(2026, 2, 1, 8, 30),
                1001,
                13800000000,
            ],
            [7.0, 46054, 3, "否", "SH002", 46055.5, "B-2", None],
        ]
    )
    preview = upload(client, org, survey_id, workbook, filename="history.xlsx", preview=True)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["format"], body["encoding"], body["delimiter"]) == ("xlsx", None, None)
    assert body["mapping"] == {
        "NPS": "answers.nps",
        "Visit date": "answers.visit",
        "spent": "answers.spent",
        "ok": "answers.ok",
        "unit_code": "unit_code",
        "RecordedDate": "submitted_at",
        "order_no": "embedded.order_no",
        "phone": "contact.phone",
    }
    assert body["rows"][0]["cells"]["RecordedDate"] == "2026-02-01T08:30:00"
    response = upload(client, org, survey_id, workbook, filename="history.xlsx")
    assert response.status_code == 200, response.text
    page = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    got = sorted(
        ((i["submitted_at"], i["answers"], i["embedded"], i["contact"]) for i in page), key=lambda g: g[0]
    )
    assert got == [
        (
            "2026-02-01T08:30:00Z",
            {"nps": 9, "visit": "2026-01-31", "spent": 12.5, "ok": True},
            {"order_no": "1001"},
            {"phone": "13800000000"},
        ),
        (
            "2026-02-02T12:00:00Z",
            {"nps": 7, "visit": "2026-02-01", "spent": 3, "ok": False},
            {"order_no": "B-2"},
            {},
        ),
    ]


QUALTRICS_DEFINITION: dict[str, Any] = {
    "title": t("Qualtrics"),
    "languages": ["zh-CN", "en"],
    "default_language": "en",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "QID1", "type": "nps", "text": t("推荐", "How likely?")},
                {
                    "id": "Q2",
                    "type": "single_choice",
                    "text": t("渠道", "Channel"),
                    "choices": [
                        {"id": "c1", "text": t("门店", "Store")},
                        {"id": "c2", "text": t("网上", "Online")},
                    ],
                },
                {"id": "Q3", "type": "text", "text": t("原因", "Why?")},
                {
                    "id": "Q5",
                    "type": "single_choice",
                    "text": t("来源", "Source"),
                    "choices": [
                        {"id": "c1", "text": t("朋友")},
                        {"id": "c4", "text": t("其他"), "other": True},
                    ],
                },
                {
                    "id": "Q4",
                    "type": "matrix",
                    "text": t("评分", "Rate"),
                    "rows": [{"id": "r1", "text": t("A")}, {"id": "r2", "text": t("B")}],
                    "scale": [{"value": v, "text": t(str(v))} for v in (1, 2, 3)],
                },
            ],
        }
    ],
}


def test_qualtrics_three_row_export_maps_by_import_id(client: TestClient, org: Org) -> None:
    survey_id = make_import_survey(client, org, QUALTRICS_DEFINITION)
    columns = [
        ("StartDate", "Start Date", "startDate"),
        ("RecordedDate", "Recorded Date", "recordedDate"),
        ("UserLanguage", "User Language", "userLanguage"),
        ("RecipientEmail", "Recipient Email", "recipientEmail"),
        ("Q1", "How likely are you to recommend us?", "QID1"),
        ("Q2", "Channel", "QID2"),
        ("Q3_TEXT", "Why? - Text", "QID3_TEXT"),
        ("Q4_1", "Rate - A", "QID4_1"),
        ("Q4_2", "Rate - B", "QID4_2"),
        ("Q5", "Source", "QID5"),
        ("Q5_4_TEXT", "Source - 其他 - Text", "QID5_4_TEXT"),
    ]
    data = [
        *qualtrics_header(columns),
        [
            "2026-01-05 10:00:00",
            "2026-01-05 10:03:00",
            "ZH-S",
            "wang@example.com",
            "8",
            "2",
            "太贵",
            "3",
            "1",
            "4",
            "小红书",
        ],
        ["2026-01-06 11:00:00", "2026-01-06 11:01:00", "EN", "", "10", "1", "", "", "2", "1", ""],
    ]
    encoded = csv_text(data).encode("utf-8-sig")
    preview = upload(client, org, survey_id, encoded, preview=True)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["layout"], body["header_rows"], body["total_rows"]) == ("qualtrics", 3, 2)
    assert body["columns"][4] == {
        "name": "Q1",
        "text": "How likely are you to recommend us?",
        "import_id": "QID1",
        "target": "answers.QID1",
        "suggested": "answers.QID1",
    }
    assert body["mapping"] == {
        "StartDate": "ignore",
        "RecordedDate": "submitted_at",
        "UserLanguage": "language",
        "RecipientEmail": "contact.email",
        "Q1": "answers.QID1",
        "Q2": "answers.Q2",
        "Q3_TEXT": "answers.Q3",
        "Q4_1": "answers.Q4.r1",
        "Q4_2": "answers.Q4.r2",
        "Q5": "answers.Q5",
        "Q5_4_TEXT": "answers.Q5.other_text",
    }
    assert body["unmapped"] == ["StartDate"]
    assert [r["row"] for r in body["rows"]] == [4, 5]
    response = upload(client, org, survey_id, encoded)
    assert response.status_code == 200, response.text
    page = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    got = sorted(
        ((i["submitted_at"], i["language"], i["answers"], i["contact"]) for i in page), key=lambda g: g[0]
    )
    assert got == [
        (
            "2026-01-05T10:03:00Z",
            "zh-CN",
            {
                "QID1": 8,
                "Q2": "c2",
                "Q3": "太贵",
                "Q4": {"r1": 3, "r2": 1},
                "Q5": {"choice": "c4", "other": "小红书"},
            },
            {"email": "wang@example.com"},
        ),
        ("2026-01-06T11:01:00Z", "en", {"QID1": 10, "Q2": "c1", "Q4": {"r2": 2}, "Q5": "c1"}, {}),
    ]


@needs_samples
def test_the_real_qualtrics_sample_reads_with_its_german_labels(client: TestClient, org: Org) -> None:
    definition = {
        "title": {"en": "Sample"},
        "languages": ["en", "de"],
        "default_language": "en",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {
                        "id": "Q1",
                        "type": "single_choice",
                        "text": {"en": "This is a multiple choice question."},
                        "choices": [{"id": f"c{i}", "text": {"en": f"Choice {i}"}} for i in (1, 2, 3)],
                    },
                    {"id": "Q2", "type": "text", "text": {"en": "This is a free text question."}},
                ],
            }
        ],
    }
    survey_id = make_import_survey(client, org, definition)
    sample = QUALTRICS_SAMPLE.read_bytes()
    body = upload(client, org, survey_id, sample, preview=True).json()
    assert body["layout"] == "qualtrics"
    mapped = {k: v for k, v in body["mapping"].items() if v != "ignore"}
    assert mapped == {
        "RecordedDate": "submitted_at",
        "RecipientEmail": "contact.email",
        "ExternalReference": "contact.external_id",
        "UserLanguage": "language",
        "Q1": "answers.Q1",
        "Q2": "answers.Q2",
    }
    response = upload(client, org, survey_id, sample)
    assert response.status_code == 200, response.text
    [item] = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    assert (item["answers"], item["submitted_at"], item["language"]) == (
        {"Q1": "c2", "Q2": "Hello World!"},
        "2017-07-18T08:28:48Z",
        "de",
    )


def test_a_mapping_overrides_the_guess_and_is_checked(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_import_survey(client, org)
    lines = [["score", "store", "reason", "extra"], ["8", "SH001", "ok", "x"]]
    encoded = csv_text(lines).encode()
    given = {"score": "nps", "reason": "answers.why", "extra": "ignore"}
    body = upload(client, org, survey_id, encoded, preview=True, mapping=given).json()
    assert body["mapping"] == {
        "score": "answers.nps",
        "store": "unit_code",
        "reason": "answers.why",
        "extra": "ignore",
    }
    assert body["unmapped"] == ["extra"]
    assert body["rows"][0]["item"] == {
        "answers": {"nps": 8, "why": "ok"},
        "embedded": {},
        "contact": {},
        "channel": "import",
        "unit_code": "SH001",
    }
    before = written(database_url)
    wrong = {"nope": "answers.nps", "score": "answers.zzz", "reason": "unit_code"}
    refused = upload(client, org, survey_id, encoded, mapping=wrong)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_mapping"
    assert refused.json()["errors"] == [
        {"path": "mapping.nope", "message": "the file has no column 'nope'"},
        {"path": "mapping.score", "message": "'answers.zzz' is not a question or field of this survey"},
    ]
    twice = upload(client, org, survey_id, encoded, mapping={"score": "nps", "reason": "nps"})
    assert twice.json()["errors"] == [
        {"path": "mapping.reason", "message": "'answers.nps' is already fed by column 'score'"}
    ]
    for bad in ("{not json", "[1, 2]", '{"score": 5}'):
        answer = upload(client, org, survey_id, encoded, mapping=bad)
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_mapping"), bad
    zone = upload(client, org, survey_id, encoded, timezone="Mars/Olympus")
    assert zone.json()["errors"] == [
        {"path": "timezone", "message": "'Mars/Olympus' is not a known time zone such as Asia/Shanghai."}
    ]
    assert written(database_url) == before


def _truncated_xlsx() -> bytes:
    return xlsx_bytes([["nps"], [9]])[:300]


def _corrupt_member() -> bytes:
    good = xlsx_bytes([["nps"], [9]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            payload = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                payload = payload[: len(payload) // 2]
            target.writestr(info, payload)
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "payload", "message"),
    [
        ("a.xlsx", _truncated_xlsx(), "The file is not a readable XLSX workbook (damaged or cut short)."),
        ("a.xlsx", _corrupt_member(), "The XLSX workbook is damaged and cannot be read."),
        (
            "a.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "Old Excel .xls files are not supported; save the sheet as .xlsx or CSV.",
        ),
        (
            "a.csv",
            "nps,门店\n9,店\n".encode("utf-16-le"),
            "The file contains NUL characters: it is not a CSV text file.",
        ),
        (
            "a.csv",
            b"nps,unit\n9,\x81\xff\n",
            "The file is not text in UTF-8 or GB18030; save it as CSV UTF-8 and try again.",
        ),
        ("a.csv", b"  \n\n", "The file is empty."),
    ],
    ids=["truncated-xlsx", "corrupt-sheet", "xls", "utf16-no-bom", "not-gb18030", "empty"],
)
def test_unreadable_files_are_refused(
    client: TestClient, org: Org, database_url: str, filename: str, payload: bytes, message: str
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    for preview in (True, False):
        response = upload(client, org, survey_id, payload, filename=filename, preview=preview)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "import_unreadable"
        assert response.json()["errors"] == [{"path": "file", "message": message}]
    assert written(database_url) == before


def test_limits_on_size_rows_and_the_request_body(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    # Over the general 1 MB limit, the import routes still take the file...
    big = csv_text([["nps", "why", "门店"]] + [["9", "x" * 1000, "SH001"] for _ in range(1500)]).encode()
    assert len(big) > 1_048_576
    dry = upload(client, org, survey_id, big, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["valid"] == 1500
    # ...while every other route keeps it.
    body = json.dumps({"answers": {"why": "x" * 1_100_000}})
    other = client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        content=body,
        headers={**org.auth("cx"), "content-type": "application/json"},
    )
    assert (other.status_code, other.json()["code"]) == (413, "payload_too_large")

    monkeypatch.setattr(import_routes, "MAX_FILE_BYTES", 1000)
    too_big = upload(client, org, survey_id, csv_text([["nps"]] + [["9"]] * 400).encode())
    assert (too_big.status_code, too_big.json()["code"]) == (413, "import_file_too_large")
    monkeypatch.setattr(reading, "MAX_ROWS", 5)
    many = upload(client, org, survey_id, csv_text([["nps"]] + [["9"]] * 6).encode())
    assert (many.status_code, many.json()["code"]) == (413, "import_too_many_rows")
    assert many.json()["detail"] == "The file has more than 5 rows."
    assert written(database_url) == before


@pytest.mark.parametrize(("file_format", "values"), [("csv", "codes"), ("xlsx", "codes"), ("csv", "labels")])
def test_an_export_of_cxloop_imports_back_unchanged(
    client: TestClient, org: Org, database_url: str, file_format: str, values: str
) -> None:
    from tests.collection.support import FULL_ANSWERS, make_survey

    survey_id = make_survey(client, org)
    sent = [
        {**FULL_ANSWERS},
        {"nps": 4, "why": "=1+1 慢", "via": "store", "liked": ["b"], "order": ["y", "z", "x"], "ok": False},
    ]
    for index, answers in enumerate(sent):
        body = {
            "answers": answers,
            "unit_code": "SH001",
            "language": "en",
            "submitted_at": f"2026-03-0{index + 1}T08:30:00+08:00",
            "embedded": {"order_no": f"A-{index}"},
            "contact": {"phone": "+86 138 0000 0000"},
        }
        created = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth("cx"))
        assert created.status_code == 201, created.text
    exported = client.get(
        f"/api/v1/surveys/{survey_id}/responses/export",
        params={"format": file_format, "values": values},
        headers=org.auth("cx"),
    )
    assert exported.status_code == 200, exported.text
    preview = upload(client, org, survey_id, exported.content, filename=f"export.{file_format}", preview=True)
    assert preview.status_code == 200, preview.text
    assert {c["name"]: c["target"] for c in preview.json()["columns"]}["liked.a"] == "answers.liked.a"
    response = upload(client, org, survey_id, exported.content, filename=f"export.{file_format}")
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 2
    items = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    fields = ("answers", "submitted_at", "unit_code", "language", "embedded", "contact")
    by_source: dict[str, list[tuple[Any, ...]]] = {}
    for item in items:
        by_source.setdefault(item["source"], []).append(
            tuple(json.dumps(item[f], sort_keys=True) for f in fields)
        )
    assert sorted(by_source["import"]) == sorted(by_source["api"])


@needs_samples
def test_the_legacy_qualtrics_export_has_two_header_rows(client: TestClient, org: Org) -> None:
    definition = {
        "title": {"en": "Legacy"},
        "languages": ["en"],
        "default_language": "en",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {
                        "id": "Q1",
                        "type": "single_choice",
                        "text": {"en": "This is a multiple choice question."},
                        "choices": [{"id": f"c{i}", "text": {"en": f"Choice {i}"}} for i in (1, 2, 3)],
                    },
                    {"id": "Q2", "type": "text", "text": {"en": "This is a free text question."}},
                ],
            }
        ],
    }
    survey_id = make_import_survey(client, org, definition)
    legacy = (QUALTRICS_SAMPLE.parent / "sample_legacy.csv").read_bytes()
    body = upload(client, org, survey_id, legacy, preview=True).json()
    assert (body["layout"], body["header_rows"], body["encoding"], body["total_rows"]) == (
        "qualtrics_legacy",
        2,
        "utf-8-sig",
        1,
    )
    mapped = {k: v for k, v in body["mapping"].items() if v != "ignore"}
    assert mapped == {
        "V4": "contact.external_id",
        "V5": "contact.email",
        "V9": "submitted_at",
        "Q1": "answers.Q1",
        "Q2": "answers.Q2",
    }
    assert body["columns"][8]["text"] == "EndDate"
    assert body["rows"][0]["row"] == 3
    assert upload(client, org, survey_id, legacy).json()["imported"] == 1
    [item] = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    assert (item["answers"], item["submitted_at"]) == (
        {"Q1": "c2", "Q2": "Hello World!"},
        "2017-07-18T08:28:48Z",
    )


def test_the_spellings_of_dates_times_and_yes_no(client: TestClient, org: Org) -> None:
    survey_id = make_import_survey(client, org)
    lines = [
        ["nps", "ok", "visit", "submitted_at", "liked", "spent", "language"],
        ["1", "yes", "2026-01-31", "2026-01-31T08:00:00Z", "price; speed", "1,234.5", "EN"],
        ["2", "否", "2026/2/1", "2026/2/1 9:05", "Staff，价格", "-3", "中文"],
        ["3", "TRUE", "2026年2月2日", "2026年2月2日 10:00:30", "speed", "0.25", "zh"],
        ["4", "0", "46055", "46055.75", "staff", "7", "zh-cn"],
        ["5", "同意", "2026.2.5", "2026-02-05 12:00+08:00", "price", "1e3", ""],
    ]
    response = upload(client, org, survey_id, csv_text(lines).encode(), timezone="Asia/Shanghai")
    assert response.status_code == 200, response.text
    items = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    got = sorted((i["answers"]["nps"], i["answers"], i["submitted_at"], i["language"]) for i in items)
    assert [g[1:] for g in got] == [
        (
            {"nps": 1, "ok": True, "visit": "2026-01-31", "liked": ["price", "speed"], "spent": 1234.5},
            "2026-01-31T08:00:00Z",
            "en",
        ),
        (
            {"nps": 2, "ok": False, "visit": "2026-02-01", "liked": ["staff", "price"], "spent": -3},
            "2026-02-01T01:05:00Z",
            "zh-CN",
        ),
        (
            {"nps": 3, "ok": True, "visit": "2026-02-02", "liked": ["speed"], "spent": 0.25},
            "2026-02-02T02:00:30Z",
            "zh-CN",
        ),
        (
            {"nps": 4, "ok": False, "visit": "2026-02-02", "liked": ["staff"], "spent": 7},
            "2026-02-02T10:00:00Z",
            "zh-CN",
        ),
        (
            {"nps": 5, "ok": True, "visit": "2026-02-05", "liked": ["price"], "spent": 1000},
            "2026-02-05T04:00:00Z",
            "zh-CN",
        ),
    ]
    bad = [lines[0], ["1", "perhaps", "2026-02-30", "yesterday", "price", "1,2", "fr"]]
    refused = upload(client, org, survey_id, csv_text(bad).encode())
    assert refused.json()["errors"] == [
        {
            "row": 2,
            "column": "ok",
            "path": "answers.ok",
            "message": "'perhaps' is not yes or no (yes/no, 是/否, 1/0)",
        },
        {"row": 2, "column": "visit", "path": "answers.visit", "message": "'2026-02-30' is not a date"},
        {
            "row": 2,
            "column": "submitted_at",
            "path": "submitted_at",
            "message": "'yesterday' is not a date and time like 2026-01-31 08:30",
        },
        {"row": 2, "column": "spent", "path": "answers.spent", "message": "'1,2' is not a number"},
        {
            "row": 2,
            "column": "language",
            "path": "language",
            "message": "'fr' is not a language of this survey (zh-CN, en)",
        },
    ]


@needs_samples
@pytest.mark.parametrize(
    "export", ["Multiple_Answer_MC_Questions (Insights).csv", "Multiple_Answer_MC_Questions.csv"]
)
def test_a_real_qualtrics_survey_and_its_responses_import_together(
    client: TestClient, org: Org, export: str
) -> None:
    folder = (
        QUALTRICS_SAMPLE.parents[2]
        / "surveys/qualtrics-qualtricstools/Multiple Answer Multiple Choices Questions"
    )
    qsf = (folder / "Multiple_Answer_MC_Questions.qsf").read_bytes()
    created = client.post(
        "/api/v1/surveys/import", files={"file": ("mc.qsf", qsf, "application/json")}, headers=org.auth("cx")
    )
    assert created.status_code == 201, created.text
    survey_id = created.json()["survey"]["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    data = (folder / export).read_bytes()
    body = upload(client, org, survey_id, data, preview=True).json()
    assert body["layout"] == ("qualtrics" if "Insights" in export else "qualtrics_legacy")
    assert body["mapping"]["Q2_1"] == "answers.Q2.c1"
    response = upload(client, org, survey_id, data)
    assert response.status_code == 200, response.text
    assert (response.json()["rows"], response.json()["imported"]) == (5, 5)
    items = client.get(f"/api/v1/surveys/{survey_id}/responses", headers=org.auth("cx")).json()["items"]
    # Picks in the survey's choice order (c1, c4, c5, c2, c3 for Q3). The legacy file
    # also holds Q4 and Q5, which the newer export left out.
    common = ("Q2", "Q3", "mc_question_five")
    got = [{k: v for k, v in i["answers"].items() if k in common} for i in items]
    # Statement 2 of mc_question_five takes text (its _TEXT column): the pick carries it.
    texts = [p["other"] for a in got for p in a["mc_question_five"] if isinstance(p, dict)]
    assert len(texts) == 5 and all(isinstance(text, str) and text for text in texts)
    for answers in got:
        answers["mc_question_five"] = [
            p["choice"] if isinstance(p, dict) else p for p in answers["mc_question_five"]
        ]
    assert sorted(json.dumps(answers, sort_keys=True) for answers in got) == sorted(
        json.dumps(answers, sort_keys=True)
        for answers in (
            {"Q2": ["c2", "c3"], "Q3": ["c4", "c2", "c3"], "mc_question_five": ["c2", "c3"]},
            {"Q2": ["c1", "c2", "c3"], "Q3": ["c4", "c2", "c3"], "mc_question_five": ["c2", "c3"]},
            {"Q2": ["c1", "c2", "c3"], "Q3": ["c5", "c2", "c3"], "mc_question_five": ["c2", "c3"]},
            {"Q2": ["c1", "c2", "c3"], "Q3": ["c5", "c3"], "mc_question_five": ["c2", "c3"]},
            {"Q2": ["c1", "c3"], "Q3": ["c4", "c5", "c2", "c3"], "mc_question_five": ["c2", "c3"]},
        )
    )


def test_times_beyond_the_calendar_are_a_cell_error(client: TestClient, org: Org) -> None:
    survey_id = make_import_survey(client, org)
    lines = [["nps", "submitted_at"], ["9", "9999-12-31T23:00:00-05:00"]]
    refused = upload(client, org, survey_id, csv_text(lines).encode())
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "row": 2,
            "column": "submitted_at",
            "path": "submitted_at",
            "message": "'9999-12-31T23:00:00-05:00' is out of the range of dates",
        }
    ]
