"""XLSForm (.xlsx through openpyxl, .xls through xlrd): the ``survey``,
``choices`` and ``settings`` sheets. Groups become pages; ``label::Lang (xx)``
columns become translations; simple ``relevant`` expressions become logic.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cxloop.surveys.importers.common import (
    Builder,
    ImportResult,
    choice_ids,
    language_code,
    plain_text,
    unreadable,
)
from cxloop.surveys.importers.expressions import parse_expression

Sheet = list[dict[str, str]]

_SIMPLE = {
    "integer": ("number", {"integer": True}),
    "decimal": ("number", {}),
    "range": ("number", {}),
    "text": ("text", {}),
    "string": ("text", {}),
    "int": ("number", {"integer": True}),
    "date": ("date", {}),
    "acknowledge": ("consent", {}),
}
_METADATA = {
    "start",
    "end",
    "today",
    "deviceid",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
}
_LANGUAGE_IN_HEADER = re.compile(r"^(.*?)\s*\(([A-Za-z_-]+)\)\s*$")
_TRUE = {"yes", "true", "true()", "1", "y"}


_OLD_SELECT = re.compile(
    r"^select (one|all that apply|multiple) from (\S+)( or (?:specify )?other)?$", re.IGNORECASE
)
_KNOWN_COLUMNS = {
    "type",
    "name",
    "label",
    "hint",
    "required",
    "relevant",
    "constraint",
    "constraint_message",
    "appearance",
    "choice_filter",
    "parameters",
    "calculation",
    "default",
    "read_only",
    "trigger",
    "list_name",
    "required_message",
    "media::image",
    "image",
}


def _column(header: Any) -> str:
    """Header spellings normalised: 'label:English' and 'bind: relevant' as 'label::English', 'relevant'."""
    text = re.sub(r"\s+", " ", str(header or "")).strip()
    if text.lower().startswith("bind:"):
        text = text[5:].strip()
    name, sep, rest = text.partition(":")
    if sep and not rest.startswith(":"):
        return f"{name.lower()}::{rest.strip()}"
    if sep:
        return f"{name.lower()}::{rest[1:].strip()}"
    return text.lower().replace("list name", "list_name")


def _type(kind: str) -> str:
    match = _OLD_SELECT.match(kind.strip())
    if not match:
        return kind.strip()
    head = "select_one" if match.group(1).lower() == "one" else "select_multiple"
    return f"{head} {match.group(2)}" + (" or_other" if match.group(3) else "")


def _rows(values: list[list[Any]]) -> Sheet:
    if not values:
        return []
    header = [_column(h) for h in values[0]]
    rows: Sheet = []
    for raw in values[1:]:
        row = {h: str(v).strip() for h, v in zip(header, raw, strict=False) if h and v not in (None, "")}
        rows.append(row)
    return rows


MAX_ROWS = 20_000
# Spreadsheets often claim a million rows; reading stops after this many blank ones.
MAX_BLANK_RUN = 200


def _sheet_values(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    values: list[list[Any]] = []
    blank = 0
    for row in rows:
        if all(v is None or v == "" for v in row):
            blank += 1
            if blank > MAX_BLANK_RUN:
                break
            continue
        values.extend([[]] * blank)
        blank = 0
        values.append(list(row))
        if len(values) > MAX_ROWS:
            raise unreadable(f"A sheet has more than {MAX_ROWS} rows.")
    return values


def _read_xlsx(data: bytes) -> dict[str, Sheet]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, InvalidFileException... on a damaged or foreign zip
        raise unreadable(f"The .xlsx file cannot be read: {exc}") from exc
    try:
        return {
            ws.title.strip().lower(): _rows(_sheet_values(ws.iter_rows(values_only=True)))
            for ws in book.worksheets
        }
    except Exception as exc:  # openpyxl raises many kinds on a damaged sheet
        raise unreadable(f"The .xlsx file cannot be read: {exc}") from exc
    finally:
        book.close()


def _read_xls(data: bytes) -> dict[str, Sheet]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, logfile=io.StringIO())
        return {
            sheet.name.strip().lower(): _rows(_sheet_values(sheet.row_values(i) for i in range(sheet.nrows)))
            for sheet in book.sheets()
        }
    except Exception as exc:  # xlrd raises XLRDError, struct.error, IndexError... on damage
        raise unreadable(f"The .xls file cannot be read: {exc}") from exc


def _float_text(value: str) -> str:
    return value[:-2] if value.endswith(".0") and value[:-2].lstrip("-").isdigit() else value


class _XlsForm:
    def __init__(self, sheets: dict[str, Sheet], filename: str) -> None:
        self.survey = sheets["survey"]
        self.choices: dict[str, list[dict[str, str]]] = {}
        for row in sheets.get("choices") or sheets.get("external_choices") or []:
            if row.get("list_name"):
                self.choices.setdefault(row["list_name"], []).append(row)
        self.settings = (sheets.get("settings") or [{}])[0] if sheets.get("settings") else {}
        self.b = Builder("XLSForm")
        self.filename = filename
        self.mapped: dict[str, tuple[str, dict[str, str], bool]] = {}
        self.labels: dict[str, str | None] = {}

    def _languages(self) -> None:
        columns = {
            key for row in self.survey + [c for cs in self.choices.values() for c in cs] for key in row
        }
        default = self.settings.get("default_language")
        for column in sorted(columns):
            if column.startswith("label::"):
                self.labels[column] = self._language(column.removeprefix("label::"))
        if default:
            self.b.default_language = self._language(default) or self.b.default_language
        elif self.labels and "label" not in columns:
            self.b.default_language = next((v for v in self.labels.values() if v), "en")
        if self.b.default_language not in self.b.languages:
            self.b.languages.insert(0, self.b.default_language)

    def _language(self, name: str) -> str | None:
        match = _LANGUAGE_IN_HEADER.match(name)
        raw = match.group(2) if match else name
        language = language_code(raw)
        if language is None and match is None:
            known = {
                "english": "en",
                "french": "fr",
                "spanish": "es",
                "portuguese": "pt",
                "chinese": "zh",
                "german": "de",
                "swahili": "sw",
                "arabic": "ar",
            }
            language = known.get(name.strip().lower())
        if language is None:
            self.b.warn(
                f"label::{name}",
                "no language code in this column name (write 'English (en)'); its texts are left out",
            )
            return None
        if language not in self.b.languages:
            self.b.languages.append(language)
        return language

    def _unknown_columns(self) -> None:
        seen: set[str] = set()
        for index, row in enumerate(self.survey, start=2):
            for column in row:
                base = column.split("::", 1)[0]
                if base in _KNOWN_COLUMNS or column in seen:
                    continue
                seen.add(column)
                self.b.warn(f"survey row {index}", f"column {column!r} is not imported")

    def _text(self, row: dict[str, str], key: str = "label") -> dict[str, str]:
        texts: dict[str, str] = {}
        if row.get(key):
            texts[self.b.default_language] = plain_text(row[key])
        for label_column, language in self.labels.items():
            column = label_column.replace("label", key, 1)
            if language and row.get(column) and (text := plain_text(row[column])):
                texts.setdefault(language, text)
        texts = {k: v for k, v in texts.items() if v}
        if texts and self.b.default_language not in texts:
            texts[self.b.default_language] = next(iter(texts.values()))
        return texts

    def run(self) -> ImportResult:
        b = self.b
        self._languages()
        self._unknown_columns()
        title = self.settings.get("form_title") or self.filename.rsplit(".", 1)[0] or "XLSForm"
        b.title = b.lang(title)
        depth, repeat = 0, 0
        for index, row in enumerate(self.survey, start=2):
            source = f"survey row {index}"
            kind = _type(row.get("type", ""))
            if not kind:
                if row:
                    b.warn(source, "a row without a type; not imported")
                continue
            if kind.lower() in ("begin group", "begin_group"):
                depth += 1
                if depth == 1:
                    page = b.new_page(self._text(row), row.get("name") or "group")
                    if row.get("relevant"):
                        self._logic(page, row["relevant"], source)
                elif row.get("relevant"):
                    b.warn(
                        source,
                        f"relevance of nested group {row.get('name')!r} is not imported: {row['relevant']!r}",
                    )
                continue
            if kind.lower() in ("end group", "end_group"):
                depth = max(depth - 1, 0)
                if depth == 0:
                    b.new_page(hint="page")
                continue
            if kind.lower() in ("begin repeat", "begin_repeat"):
                repeat += 1
                b.warn(source, f"repeat {row.get('name')!r}: its questions are imported once, not repeated")
                continue
            if kind.lower() in ("end repeat", "end_repeat"):
                repeat = max(repeat - 1, 0)
                continue
            self._question(row, kind, source)
        b.pages = [p for p in b.pages if p["questions"] or p.get("display_logic")] or b.pages[:1]
        return b.finish()

    def _question(self, row: dict[str, str], kind: str, source: str) -> None:
        b = self.b
        parts = kind.split()
        head = parts[0].lower()
        name = row.get("name", "")
        if head in _METADATA:
            b.warn(source, f"metadata field {name or head!r} ({head}) is not imported")
            return
        if head in ("hidden",):
            b.add_embedded(name or "hidden", row.get("default"), source)
            return
        if head == "note":
            b.warn(
                source,
                f"note {name!r} is not a question; not imported: {plain_text(row.get('label'))[:200]!r}",
            )
            return
        base: dict[str, Any] = {
            "id": b.question_id(name or "q", source),
            "text": self._text(row) or b.lang(name or "question"),
        }
        if hint := self._text(row, "hint"):
            base["description"] = hint
        if row.get("required", "").lower() in _TRUE:
            base["required"] = True
        elif row.get("required"):
            b.warn(source, f"required {row['required']!r} is not a yes/no; imported as optional")
        keymap: dict[str, str] = {}
        multiple = False
        question: dict[str, Any]
        if head in _SIMPLE:
            mapped, extra = _SIMPLE[head]
            question = {**base, "type": mapped, **extra}
            if head == "range":
                params = dict(p.split("=", 1) for p in row.get("parameters", "").split() if "=" in p)
                try:
                    low, high = float(params.get("start", 0)), float(params.get("end", 10))
                    question.update(min=min(low, high), max=max(low, high))
                except ValueError:
                    b.warn(source, f"range parameters {row.get('parameters')!r} are not imported")
        elif head in (
            "select_one",
            "select_multiple",
            "rank",
            "select_one_from_file",
            "select_multiple_from_file",
        ) or head.startswith(("select_one_", "select_multiple_")):
            if head.endswith("from_file") or len(parts) < 2:
                b.warn(source, f"{kind!r}: choices from an external file are not imported")
                return
            choices, keymap = self._choices(parts[1], source)
            if "or_other" in [p.lower() for p in parts[2:]]:
                choices.append(
                    {
                        "id": "other" if "other" not in keymap.values() else "other_2",
                        "text": {b.default_language: "Other"},
                        "other": True,
                    }
                )
            if not choices or (head == "rank" and len(choices) < 2):
                b.warn(source, f"choice list {parts[1]!r} is missing or too short; not imported")
                return
            multiple = head.startswith("select_multiple")
            appearance = row.get("appearance", "").lower()
            if head == "rank":
                question = {**base, "type": "ranking", "choices": choices}
            elif multiple:
                question = {**base, "type": "multiple_choice", "choices": choices}
            else:
                question = {
                    **base,
                    "type": "dropdown"
                    if "minimal" in appearance or "autocomplete" in appearance
                    else "single_choice",
                    "choices": choices,
                }
            if row.get("choice_filter"):
                b.warn(source, f"choice filter {row['choice_filter']!r} is not imported")
            if row.get("parameters", "").find("randomize=true") >= 0:
                question["randomize"] = True
        else:
            b.warn(source, f"type {kind!r} has no cxloop equivalent; {name!r} not imported")
            return
        if row.get("relevant"):
            self._logic(question, row["relevant"], source)
        for key in ("constraint", "calculation", "default", "read_only", "trigger"):
            if row.get(key):
                b.warn(source, f"{key} {row[key]!r} is not imported")
        self.b.place(question, source)
        self.mapped[name] = (question["id"], keymap, multiple)

    def _choices(self, list_name: str, source: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rows = self.choices.get(list_name, [])
        values = [_float_text(r.get("name", "")) for r in rows]
        ids = choice_ids(values)
        renamed = [f"{v!r}->{i!r}" for v, i in zip(values, ids, strict=True) if v != i]
        if renamed:
            self.b.warn(source, "choice names imported as ids: " + ", ".join(renamed)[:1000])
        if len(rows) > 1000:
            self.b.warn(source, f"{len(rows) - 1000} choices beyond 1000 are not imported")
        choices = [
            {"id": cid, "text": self._text(r) or {self.b.default_language: value or cid}}
            for r, value, cid in zip(rows, values, ids, strict=True)
        ][:1000]
        return choices, dict(zip(values, ids, strict=True))

    def _logic(self, target: dict[str, Any], expression: str, source: str) -> None:
        def resolve(name: str) -> tuple[str, dict[str, str], bool] | None:
            return self.mapped.get(name)

        condition = parse_expression(expression, resolve)
        if condition is None:
            self.b.warn(
                source, f"relevant {expression!r} is not expressible as a cxloop condition; not imported"
            )
        else:
            target["display_logic"] = condition


def import_xlsform(filename: str, data: bytes) -> ImportResult:
    sheets = _read_xlsx(data) if data[:4] == b"PK\x03\x04" else _read_xls(data)
    if "survey" not in sheets:
        raise unreadable("The workbook has no 'survey' sheet, so it is not an XLSForm.")
    if not any(row.get("type") for row in sheets["survey"]):
        raise unreadable("The 'survey' sheet has no 'type' column or no rows.")
    return _XlsForm(sheets, filename.rsplit("/", 1)[-1]).run()
