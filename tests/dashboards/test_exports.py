"""Exports: a widget's rows as CSV and XLSX, and the dashboard as a PDF with a
CJK font; always the viewer's scope, bad input 4xx."""

from __future__ import annotations

import io
import re
import zlib

import openpyxl
import pytest
from fastapi.testclient import TestClient

import cxloop.dashboards.data as data
from cxloop.dashboards.exports import rows_to_csv
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org


def inflated(pdf: bytes) -> bytes:
    """The PDF with its compressed streams (object streams hold the font dictionaries) inflated."""
    parts = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_a_widget_as_csv_and_xlsx(client: TestClient, org: Org, metrics: FakeMetrics) -> None:
    url = "/api/v1/dashboards/default/widgets/regions/export?period=all"
    as_csv = client.get(url, headers=org.auth("cx"))
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="default-regions.csv"' in as_csv.headers["content-disposition"]
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "unit_code,nps,n,delta,significant,unit_name,unit_depth,unit_leaf",
        "EAST,40.0,100,2.5,false,华东区,1,false",
        "SOUTH,41.0,101,2.5,false,华南区,1,false",
    ]
    as_xlsx = client.get(url + "&format=xlsx", headers=org.auth("cx"))
    assert as_xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    sheet = book.worksheets[0]
    assert sheet.title == "区域对比"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["unit_code", "nps", "n"]
    assert values[1][:3] == ["EAST", 40.0, 100]


def test_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    text = rows_to_csv([{"comment": "=HYPERLINK(1)", "n": -3, "at": "@x"}]).decode("utf-8-sig")
    assert text.splitlines()[1] == "'=HYPERLINK(1),-3,'@x"


def test_export_errors_are_4xx(client: TestClient, org: Org, metrics: FakeMetrics) -> None:
    base = "/api/v1/dashboards/default/widgets"
    assert client.get(f"{base}/nope/export", headers=org.auth("cx")).status_code == 404
    assert client.get(f"{base}/regions/export?format=doc", headers=org.auth("cx")).status_code == 422
    outside = client.get(f"{base}/trend/export?unit_code=SOUTH", headers=org.auth("east"))
    assert outside.status_code == 404
    assert outside.json()["code"] == "unit_not_found"
    bad = client.get(f"{base}/regions/export?date_from=2026-02-01&date_to=2026-01-01", headers=org.auth("cx"))
    assert bad.status_code == 422


def test_a_failing_widget_export_is_its_error_not_a_500(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> dict[str, object]:
        raise data.AnalyticsUnavailable("The metrics query engine is not installed.")

    monkeypatch.setattr(data, "query_runner", broken)
    got = client.get("/api/v1/dashboards/default/widgets/regions/export", headers=org.auth("cx"))
    assert got.status_code == 503
    assert got.json()["code"] == "analytics_unavailable"


def test_the_dashboard_as_a_pdf_with_chinese_text(client: TestClient, org: Org, metrics: FakeMetrics) -> None:
    got = client.get("/api/v1/dashboards/default/report?period=all", headers=org.auth("east"))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf"
    pdf = got.content
    assert pdf.startswith(b"%PDF-")
    # Chinese is drawn with an embedded CJK font, not boxes.
    fonts = set(re.findall(rb"/BaseFont\s*/([A-Za-z0-9+\-_]+)", inflated(pdf)))
    assert any(b"CJK" in f or b"WenQuanYi" in f for f in fonts), fonts
    as_xlsx = client.get("/api/v1/dashboards/default/report?format=xlsx&period=all", headers=org.auth("east"))
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    assert [s.title for s in book.worksheets] == [
        "净推荐值",
        "满意度",
        "回复数",
        "回复率",
        "NPS 与公司对比",
        "门店排名",
        "下级单位",
    ]
