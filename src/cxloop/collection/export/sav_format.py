"""SPSS .sav through pyreadstat: question texts as variable labels, choice and
scale texts as value labels, valid SPSS variable names.

Choices are stored as numbers 1..n (in the order of the survey) with the
choice text as value label, as SPSS users expect; pyreadstat writes a whole
frame at once, so the values are gathered column by column (compact lists)
and the file is written in a worker thread.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cxloop.collection.export.columns import Column, Row
from cxloop.collection.export.source import ExportPlan

MAX_NAME_BYTES = 64
MAX_LABEL_BYTES = 256
MAX_VALUE_LABEL_BYTES = 120
MAX_FILE_LABEL_BYTES = 64
MAX_STRING_BYTES = 32_767
MAX_NOTE_BYTES = 80
# SPSS keywords that may not be variable names.
RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"})


def clip(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never cutting a character in two."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def spss_names(names: list[str]) -> dict[str, str]:
    """A valid, case-insensitively unique SPSS name for each column name."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_.]", "_", name).rstrip(".")
        if not base or not base[0].isalpha() or base.upper() in RESERVED:
            base = "v_" + base
        base = base[:MAX_NAME_BYTES].rstrip(".")
        candidate, counter = base, 1
        while candidate.lower() in used:
            counter += 1
            suffix = f"_{counter}"
            candidate = base[: MAX_NAME_BYTES - len(suffix)] + suffix
        used.add(candidate.lower())
        mapping[name] = candidate
    return mapping


class SavColumns:
    """The values of each column, gathered page by page."""

    def __init__(self, plan: ExportPlan) -> None:
        self.plan = plan
        self.values: list[list[Any]] = [[] for _ in plan.columns]

    def add(self, page: list[Row]) -> None:
        for column, values in zip(self.plan.columns, self.values, strict=True):
            values.extend(_sav_value(column, column.code(row)) for row in page)

    def write(self, path: Path) -> None:
        # Imported here: polars alone adds a noticeable delay to every process start.
        import polars as pl
        import pyreadstat

        columns = self.plan.columns
        names = spss_names([column.name for column in columns])
        schema: dict[str, Any] = {}
        for column in columns:
            schema[names[column.name]] = _polars_type(pl, column)
        frame = pl.DataFrame(
            {names[c.name]: values for c, values in zip(columns, self.values, strict=True)}, schema=schema
        )
        renamed = [
            line for name, sav in names.items() if sav != name for line in _note_lines(f"{sav}: {name}")
        ]
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label=clip(self.plan.title, MAX_FILE_LABEL_BYTES),
            column_labels={
                names[c.name]: clip(c.label, MAX_LABEL_BYTES) for c in columns if c.label is not None
            },
            variable_value_labels={
                names[c.name]: _value_labels(c) for c in columns if any(c.spss_labels.values())
            },
            variable_measure={names[c.name]: "nominal" for c in columns if c.spss_codes is not None},
            note=["Variables renamed from cxloop column names:", *renamed] if renamed else None,
        )


def _value_labels(column: Column) -> dict[float, str]:
    labels = column.spss_labels.items()
    return {float(code): clip(text, MAX_VALUE_LABEL_BYTES) for code, text in labels if text}


def _note_lines(text: str) -> list[str]:
    """SPSS notes are lines of at most 80 bytes; longer ones go on, indented, in the next lines."""
    lines = [clip(text, MAX_NOTE_BYTES)]
    rest = text[len(lines[0]) :]
    while rest:
        lines.append(clip("  " + rest, MAX_NOTE_BYTES))
        rest = rest[len(lines[-1]) - 2 :]
    return lines


def _polars_type(pl: Any, column: Column) -> Any:
    if column.spss_codes is not None or column.kind == "number":
        return pl.Float64
    if column.kind == "date":
        return pl.Date
    if column.kind == "datetime":
        return pl.Datetime("us")
    return pl.String


def _sav_value(column: Column, value: Any) -> Any:
    if column.spss_codes is not None:
        return None if value is None else column.spss_codes.get(value)
    if column.kind == "number":
        return None if value is None else float(value)
    if column.kind == "datetime":
        return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else None
    if column.kind == "date":
        return value if isinstance(value, date) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return clip(str(value), MAX_STRING_BYTES)
