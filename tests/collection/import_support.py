"""Files to import, made in the test: CSV text in any encoding, XLSX workbooks,
a Qualtrics 3-row header; and a small published survey of every answer kind."""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.collection.support import t
from tests.factories import Org

IMPORT_DEFINITION: dict[str, Any] = {
    "title": t("历史数据", "History"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "order_no"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "nps",
                    "type": "nps",
                    "text": t("推荐意愿", "Would you recommend us?"),
                    "required": True,
                },
                {
                    "id": "via",
                    "type": "single_choice",
                    "text": t("购买渠道", "Where did you buy?"),
                    "choices": [
                        {"id": "store", "text": t("门店", "Store")},
                        {"id": "app", "text": t("应用", "App")},
                    ],
                },
                {
                    "id": "liked",
                    "type": "multiple_choice",
                    "text": t("喜欢什么", "What did you like?"),
                    "choices": [
                        {"id": "price", "text": t("价格", "Price")},
                        {"id": "staff", "text": t("店员", "Staff")},
                        {"id": "speed", "text": t("速度", "Speed")},
                    ],
                },
                {
                    "id": "grid",
                    "type": "matrix",
                    "text": t("评价", "Rate"),
                    "rows": [
                        {"id": "clean", "text": t("整洁", "Clean")},
                        {"id": "quiet", "text": t("安静", "Quiet")},
                    ],
                    "scale": [{"value": v, "text": t(f"{v}分", f"{v} points")} for v in (1, 2, 3)],
                },
                {"id": "sq", "type": "servqual", "dimension": "empathy", "text": t("共情", "Empathy")},
                {"id": "ok", "type": "consent", "text": t("同意回访", "May we call you?")},
                {"id": "visit", "type": "date", "text": t("到店日期", "Visit date")},
                {"id": "spent", "type": "number", "text": t("消费金额", "Amount spent")},
                {"id": "why", "type": "text", "text": t("原因", "Why?")},
            ],
        }
    ],
}


def make_import_survey(
    client: TestClient, org: Org, definition: dict[str, Any] | None = None, *, publish: bool = True
) -> str:
    created = client.post(
        "/api/v1/surveys", json={"definition": definition or IMPORT_DEFINITION}, headers=org.auth("cx")
    )
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    if publish:
        published = client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx"))
        assert published.status_code == 200, published.text
    return survey_id


def csv_text(rows: list[list[Any]], delimiter: str = ",") -> str:
    import csv

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def qualtrics_header(columns: list[tuple[str, str, str]]) -> list[list[str]]:
    """Rows 1-3 of a Qualtrics export: names, question texts, ImportId JSON."""
    return [
        [name for name, _, _ in columns],
        [text for _, text, _ in columns],
        [json.dumps({"ImportId": import_id}) for _, _, import_id in columns],
    ]


def upload(
    client: TestClient,
    org: Org,
    survey_id: str,
    content: bytes,
    *,
    filename: str = "responses.csv",
    who: str = "cx",
    preview: bool = False,
    headers: dict[str, str] | None = None,
    **form: Any,
) -> Any:
    data = {
        k: (
            json.dumps(v)
            if k == "mapping" and not isinstance(v, str)
            else str(v).lower()
            if isinstance(v, bool)
            else v
        )
        for k, v in form.items()
    }
    suffix = "/preview" if preview else ""
    return client.post(
        f"/api/v1/surveys/{survey_id}/responses/import{suffix}",
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
        headers={**org.auth(who), **(headers or {})},
    )
