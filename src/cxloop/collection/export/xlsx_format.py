"""XLSX through xlsxwriter in constant-memory mode: rows go to a temporary
file as they are written, so memory stays one row deep whatever the size.
Cells are typed: numbers as numbers, dates and times as Excel dates (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from cxloop.collection.export.columns import Row
from cxloop.collection.export.csv_format import guard, row_values
from cxloop.collection.export.source import ExportPlan
from cxloop.kit.errors import Conflict

MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
MAX_CELL_TEXT = 32_767


class XlsxSheet:
    """One worksheet of responses; not thread-safe, written from one worker thread."""

    def __init__(self, path: Path, plan: ExportPlan) -> None:
        self.plan = plan
        self.workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                # Answers are data, never formulas, links or numbers in disguise.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.sheet = self.workbook.add_worksheet("responses")
        self.header = self.workbook.add_format({"bold": True})
        self.datetime = self.workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.date = self.workbook.add_format({"num_format": "yyyy-mm-dd"})
        for index, column in enumerate(plan.columns):
            kind = column.kind_for(plan.labelled)
            self.sheet.set_column(index, index, 20 if kind == "datetime" else 12 if kind == "date" else 14)
            self.sheet.write_string(0, index, column.name, self.header)
        self.sheet.freeze_panes(1, 0)
        self.rows = 0

    def write(self, page: list[Row]) -> None:
        if self.rows + len(page) > MAX_ROWS:
            raise Conflict(
                f"More than {MAX_ROWS} responses do not fit one XLSX sheet; "
                "export CSV or narrow the filters.",
                code="export_too_large",
            )
        for row in page:
            self.rows += 1
            for index, value in enumerate(row_values(self.plan, row)):
                self._cell(self.rows, index, value)

    def _cell(self, row: int, col: int, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.sheet.write_boolean(row, col, value)
        elif isinstance(value, int | float):
            self.sheet.write_number(row, col, value)
        elif isinstance(value, datetime):
            self.sheet.write_datetime(row, col, value.astimezone(UTC).replace(tzinfo=None), self.datetime)
        elif isinstance(value, date):
            self.sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), self.date)
        else:
            self.sheet.write_string(row, col, guard(str(value))[:MAX_CELL_TEXT])

    def close(self) -> None:
        self.workbook.close()
