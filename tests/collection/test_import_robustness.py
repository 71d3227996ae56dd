"""Whatever bytes arrive, reading, mapping and converting a file either work
or refuse with a clear AppError: never another exception (a 500)."""

from __future__ import annotations

import io
import zipfile
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.collection.imports import read_table, resolve
from cxloop.collection.imports.service import Plan, convert
from cxloop.kit.errors import AppError
from cxloop.surveys import parse_definition
from tests.collection.import_support import IMPORT_DEFINITION, csv_text, xlsx_bytes

DEFINITION = parse_definition(IMPORT_DEFINITION)
HEADER = [
    "nps",
    "购买渠道",
    "liked",
    "grid.clean",
    "sq.expectation",
    "ok",
    "visit",
    "spent",
    "提交时间",
    "language",
]
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["9", "11", "-1", "1e400", "nan", "inf", "46053", "2026/2/30", "是", "价格、x", "0x1F", ""]
    ),
)


# Worksheets cannot hold control characters; openpyxl refuses to write them.
XLSX_CELL = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    st.sampled_from(["9", "46053", "2026/2/30", "是"]),
)


def read_and_convert(filename: str, data: bytes) -> None:
    try:
        table = read_table(filename, data)
        plan = Plan(table, DEFINITION, resolve(table, DEFINITION, None), ZoneInfo("Asia/Shanghai"))
        convert(plan)
    except AppError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400), st.sampled_from(["a.csv", "a.xlsx", "a.txt"]))
def test_any_bytes(data: bytes, filename: str) -> None:
    read_and_convert(filename, data)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.lists(CELL, max_size=12), max_size=6),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
def test_any_csv_cells(rows: list[list[str]], delimiter: str, encoding: str) -> None:
    text = csv_text([HEADER, *rows], delimiter)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    read_and_convert("a.csv", data)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(XLSX_CELL, max_size=10), max_size=4), st.integers(0, 3000))
def test_any_xlsx_cells_and_damage(rows: list[list[object]], cut: int) -> None:
    workbook = xlsx_bytes([HEADER, *rows])
    read_and_convert("a.xlsx", workbook)
    read_and_convert("a.xlsx", workbook[:cut])
    # A workbook whose sheet XML is replaced by garbage.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            payload = source.read(info)
            target.writestr(info, payload[::-1] if info.filename.endswith("sheet1.xml") else payload)
    read_and_convert("a.xlsx", out.getvalue())
