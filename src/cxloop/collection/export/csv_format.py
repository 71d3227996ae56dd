"""CSV: UTF-8 with a byte-order mark (so that Excel reads Chinese correctly),
RFC 4180 quoting and CRLF line ends, streamed one page at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from cxloop.collection.export.columns import Row
from cxloop.collection.export.source import ExportPlan, read_pages
from cxloop.kit.db import Database

BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula
# (CSV injection); a leading apostrophe makes it plain text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return guard(value)
    return str(value)


def row_values(plan: ExportPlan, row: Row) -> list[Any]:
    if plan.labelled:
        return [column.text(row) for column in plan.columns]
    return [column.code(row) for column in plan.columns]


class CsvEncoder:
    """Bytes of the header and of each page, through one reusable buffer."""

    def __init__(self, plan: ExportPlan) -> None:
        self.plan = plan
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def _take(self) -> bytes:
        chunk = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return chunk

    def header(self) -> bytes:
        self.buffer.write(BOM)
        self.writer.writerow([column.name for column in self.plan.columns])
        return self._take()

    def page(self, rows: list[Row]) -> bytes:
        self.writer.writerows([csv_cell(value) for value in row_values(self.plan, row)] for row in rows)
        return self._take()


async def csv_chunks(db: Database, plan: ExportPlan) -> AsyncIterator[bytes]:
    """The whole file; a resumed export (``after``) continues one, so it has no BOM and no header."""
    encoder = CsvEncoder(plan)
    if plan.where.after is None:
        yield encoder.header()
    async for page in read_pages(db, plan):
        yield encoder.page(page)
