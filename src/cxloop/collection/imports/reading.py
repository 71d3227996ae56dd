"""Response files as a table: CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM,
GB18030; comma, semicolon, tab or pipe) and XLSX (the first sheet), with the
header rows of Qualtrics exports recognised.

Rows keep the number they have in the file (1-based, header rows counted),
which is what a spreadsheet shows, so that an error points at the right line.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from cxloop.kit.errors import FieldError, PayloadTooLarge, ValidationFailed

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_COLUMNS = 500
# An XLSX is a zip: a small file may inflate to gigabytes. Real exports of
# MAX_ROWS rows stay well below this.
MAX_UNZIPPED_BYTES = 400 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
_IMPORT_ID = re.compile(r"""^\{\s*["']ImportId["']\s*:\s*["']([^"']*)["']""")
_LEGACY_V = re.compile(r"^V\d+$")


class FileUnreadable(ValidationFailed):
    """The upload is not a table we can read: nothing is imported."""

    default_code = "import_unreadable"


def unreadable(message: str) -> FileUnreadable:
    return FileUnreadable(message, errors=[FieldError("file", message)])


@dataclass(frozen=True)
class Column:
    index: int
    name: str
    # Qualtrics exports: the question text (row 2) and the ImportId (row 3).
    text: str | None = None
    import_id: str | None = None


@dataclass
class Table:
    format: str  # "csv" or "xlsx"
    layout: str  # "plain", "qualtrics" (3 header rows) or "qualtrics_legacy" (2)
    encoding: str | None
    delimiter: str | None
    header_rows: int
    columns: list[Column]
    # (row number in the file, cells); cells are text for CSV, typed values for XLSX.
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def read_table(filename: str, data: bytes) -> Table:
    """The table in an uploaded file; raises FileUnreadable or PayloadTooLarge."""
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.", code="import_file_too_large"
        )
    if not data.strip():
        raise unreadable("The file is empty.")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise unreadable("Old Excel .xls files are not supported; save the sheet as .xlsx or CSV.")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        fmt, encoding, delimiter, raw = "xlsx", None, None, _xlsx_rows(data)
    else:
        text, encoding = decode(data)
        delimiter = sniff_delimiter(text)
        fmt, raw = "csv", _csv_rows(text, delimiter)
    return _shape(fmt, encoding, delimiter, raw)


# --- CSV ------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: a BOM decides, then UTF-8, then GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    text: str | None = None
    encoding = candidates[-1]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise unreadable("The file is not text in UTF-8 or GB18030; save it as CSV UTF-8 and try again.")
    if "\x00" in text:
        raise unreadable("The file contains NUL characters: it is not a CSV text file.")
    return text, encoding


def sniff_delimiter(text: str) -> str:
    """The candidate that occurs most often outside quotes on the header line; comma on a tie."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text[:65536]:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _csv_rows(text: str, delimiter: str) -> list[tuple[int, list[Any]]]:
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1):
            rows.append((number, list(cells)))
            _check_size(rows)
    except csv.Error as exc:
        raise unreadable(f"The CSV cannot be read at row {len(rows) + 1}: {exc}.") from exc
    return rows


def _check_size(rows: list[tuple[int, list[Any]]]) -> None:
    # Header rows come on top; the limit is on data rows, with room for three headers.
    if len(rows) > MAX_ROWS + 3:
        raise PayloadTooLarge(f"The file has more than {MAX_ROWS} rows.", code="import_too_many_rows")
    if len(rows[-1][1]) > MAX_COLUMNS:
        raise unreadable(f"Row {rows[-1][0]} has more than {MAX_COLUMNS} columns.")


# --- XLSX -----------------------------------------------------------------


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise unreadable("The workbook unpacks to more than 400 MB; split it into smaller files.")
    except zipfile.BadZipFile as exc:
        raise unreadable("The file is not a readable XLSX workbook (damaged or cut short).") from exc
    from openpyxl import load_workbook

    rows: list[tuple[int, list[Any]]] = []
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise unreadable("The workbook has no sheet.")
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
                cells = list(values)
                while cells and cells[-1] in (None, ""):
                    cells.pop()
                rows.append((number, cells))
                _check_size(rows)
        finally:
            workbook.close()
    except (FileUnreadable, PayloadTooLarge):
        raise
    except Exception as exc:
        # openpyxl lets zipfile's, zlib's, the XML parser's and its own exceptions through for damaged parts.
        raise unreadable("The XLSX workbook is damaged and cannot be read.") from exc
    return rows


# --- shape ----------------------------------------------------------------


def _blank(cells: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def cell_text(value: Any) -> str:
    """A cell as people read it (used for headers and previews)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _import_id(value: Any) -> str | None:
    text = cell_text(value).strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        match = _IMPORT_ID.match(text)  # early exports wrote {'ImportId': 'QID1'}
        return match.group(1) if match else None
    found = parsed.get("ImportId") if isinstance(parsed, dict) else None
    return found if isinstance(found, str) else None


def _layout(raw: list[tuple[int, list[Any]]], start: int) -> str:
    header = [cell_text(c).strip() for c in raw[start][1]]
    if len(raw) > start + 2:
        third = [c for c in raw[start + 2][1] if cell_text(c).strip()]
        if third and sum(_import_id(c) is not None for c in third) * 2 >= len(third):
            return "qualtrics"
    if len(raw) > start + 1:
        second = {cell_text(c).strip().lower() for c in raw[start + 1][1]}
        legacy = sum(bool(_LEGACY_V.match(h)) for h in header) >= 5
        if legacy and ("responseid" in second or "responseset" in second):
            return "qualtrics_legacy"
    return "plain"


def _unique_names(labels: list[str]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for position, label in enumerate(labels, 1):
        name = label.strip() or f"column {position}"
        candidate, copy = name, 2
        while candidate in seen:
            candidate, copy = f"{name} ({copy})", copy + 1
        seen.add(candidate)
        names.append(candidate)
    return names


def _shape(fmt: str, encoding: str | None, delimiter: str | None, raw: list[tuple[int, list[Any]]]) -> Table:
    start = next((i for i, (_, cells) in enumerate(raw) if not _blank(cells)), None)
    if start is None:
        raise unreadable("The file holds no header row.")
    layout = _layout(raw, start)
    header_rows = {"qualtrics": 3, "qualtrics_legacy": 2}.get(layout, 1)
    header = raw[start][1]
    texts = raw[start + 1][1] if header_rows > 1 else []
    ids = raw[start + 2][1] if header_rows > 2 else []
    width = max(len(header), *(len(cells) for _, cells in raw[start + header_rows :]), 0)
    labels = [cell_text(header[i]) if i < len(header) else "" for i in range(width)]
    names = _unique_names(labels)
    columns = [
        Column(
            index=i,
            name=names[i],
            text=(cell_text(texts[i]).strip() or None) if i < len(texts) else None,
            import_id=_import_id(ids[i]) if i < len(ids) else None,
        )
        for i in range(width)
    ]
    body = [(number, cells) for number, cells in raw[start + header_rows :] if not _blank(cells)]
    if len(body) > MAX_ROWS:
        raise PayloadTooLarge(f"The file has more than {MAX_ROWS} rows.", code="import_too_many_rows")
    return Table(fmt, layout, encoding, delimiter, header_rows, columns, body)
