"""One cell to one typed value, per question type and response field.

Only the form is converted here ("9" -> 9, a label -> its choice id, 是 ->
true); whether the value is allowed (in range, a choice of this question)
is decided afterwards by the same checks as the API, so an import and an
API call refuse the same things with the same messages.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from cxloop.collection.imports.reading import cell_text

# Excel counts days from 1899-12-30 (its 1900 leap-year bug included); serials
# outside 1950..2100 are more likely plain numbers than dates.
_EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL_RANGE = (18264, 73051)
_SEPARATORS = re.compile(r"\s*[;；,，、]\s*")
_DAY = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DAY_TIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?[ T]+"
    r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$"
)
_TRUE = frozenset({"yes", "y", "true", "t", "1", "是", "同意", "对", "checked", "on", "x", "✓"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "否", "不同意", "不", "unchecked", "off"})
LANGUAGE_ALIASES = {
    "zh": "zh-CN",
    "zh-s": "zh-CN",
    "zh-hans": "zh-CN",
    "zh_cn": "zh-CN",
    "zh-t": "zh-TW",
    "zh-hant": "zh-TW",
    "zh_tw": "zh-TW",
    "cn": "zh-CN",
    "中文": "zh-CN",
    "简体中文": "zh-CN",
    "英文": "en",
    "english": "en",
}


class CellError(ValueError):
    """The cell cannot be read as the target's kind of value."""


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return cell_text(value).strip()


def whole_number(value: Any) -> int:
    if isinstance(value, bool):
        raise CellError(f"{_text(value)!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not number.is_integer() or abs(number) > 2**53:
        raise CellError(f"{text!r} is not a whole number")
    return int(number)


def number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        result: float = float(value)
    else:
        text = (
            _text(value).replace(",", "")
            if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", _text(value))
            else _text(value)
        )
        try:
            result = float(text)
        except ValueError as exc:
            raise CellError(f"{_text(value)!r} is not a number") from exc
    if not math.isfinite(result):
        raise CellError(f"{_text(value)!r} is not a number")
    return int(result) if result.is_integer() and abs(result) <= 2**53 else result


def consent(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"{_text(value)!r} is not yes or no (yes/no, 是/否, 1/0)")


def _serial(value: float) -> datetime:
    if not _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
        raise CellError(f"{value:g} is not a date")
    return _EXCEL_EPOCH + timedelta(days=value)


def _serial_of(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(float(value))
    text = _text(value)
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _serial(float(text))
    return None


def day(value: Any) -> str:
    """A date as 2026-01-31, from ISO text, 2026/1/31, 2026年1月31日, a date cell or an Excel serial."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    serial = _serial_of(value)
    if serial is not None:
        return serial.date().isoformat()
    text = _text(value)
    match = _DAY.match(text) or _DAY_TIME.match(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError as exc:
            raise CellError(f"{text!r} is not a date") from exc
    raise CellError(f"{text!r} is not a date like 2026-01-31")


def moment(value: Any, zone: tzinfo = UTC) -> datetime:
    """A point in time; times without an offset are read in ``zone``."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime.combine(value, time())
    elif isinstance(value, time):
        raise CellError(f"{_text(value)!r} is a time without a date")
    else:
        serial = _serial_of(value)
        found = serial if serial is not None else _parse_moment(_text(value))
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone)
    try:
        return found.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise CellError(f"{_text(value)!r} is out of the range of dates") from exc


def _parse_moment(text: str) -> datetime:
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    match = _DAY_TIME.match(text)
    try:
        if match:
            parts = [int(p) if p else 0 for p in match.groups()]
            return datetime(*parts)  # type: ignore[arg-type]
        match = _DAY.match(text)
        if match:
            return datetime(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise CellError(f"{text!r} is not a date and time") from exc
    raise CellError(f"{text!r} is not a date and time like 2026-01-31 08:30")


def language(value: Any, languages: list[str]) -> str:
    """A language of the survey from its code in any case, an alias (ZH-S, 中文) or its primary tag."""
    text = _text(value)
    folded = text.casefold()
    for known in languages:
        if known.casefold() == folded:
            return known
    alias = LANGUAGE_ALIASES.get(folded.replace("_", "-")) or LANGUAGE_ALIASES.get(folded)
    if alias and alias in languages:
        return alias
    primary = folded.replace("_", "-").split("-")[0]
    matches = [known for known in languages if known.casefold().split("-")[0] == primary]
    if len(matches) == 1:
        return matches[0]
    raise CellError(f"{text!r} is not a language of this survey ({', '.join(languages)})")


def plain(value: Any) -> str:
    """Text as typed, without the apostrophe exports put before a leading = + - @ (the formula guard)."""
    text = _text(value)
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        return text[1:]
    return text


class Choices:
    """A choice question's choices by id and by label in every language."""

    def __init__(self, choices: list[Any], *, numeric_codes: bool = False) -> None:
        self.ids = {choice.id for choice in choices}
        self.by_fold: dict[str, str] = {}
        for choice in choices:
            self.by_fold.setdefault(choice.id.casefold(), choice.id)
        for choice in choices:
            for text in choice.text.values():
                self.by_fold.setdefault(" ".join(text.split()).casefold(), choice.id)
        # Qualtrics exports a choice's number; its .qsf importer names that choice c<number>.
        self.numeric_codes = numeric_codes
        self.other = next((choice.id for choice in choices if choice.other), None)

    def find(self, text: str) -> str | None:
        if text in self.ids:
            return text
        found = self.by_fold.get(" ".join(text.split()).casefold())
        if found is None and self.numeric_codes and text.isdigit() and f"c{text}" in self.ids:
            found = f"c{text}"
        return found

    def one(self, value: Any) -> Any:
        text = _text(value)
        found = self.find(text)
        if found is not None:
            return found
        # Unknown text goes on as given; the check names it "not one of the choices".
        return text

    def picked(self, choice_id: str, value: Any) -> bool:
        """A per-choice column: 1/0, yes/no, or the choice's own text (an export with labels)."""
        found = self.find(_text(value))
        if found == choice_id:
            return True
        try:
            return consent(value)
        except CellError:
            raise CellError(f"{_text(value)!r} is neither 1/0 nor the text of choice {choice_id!r}") from None

    def many(self, value: Any) -> list[str]:
        text = _text(value)
        whole = self.find(text)
        if whole is not None:
            return [whole]
        return [self.find(part) or part for part in _SEPARATORS.split(text) if part]


def scale_point(value: Any, scale: list[Any]) -> int:
    """A matrix cell: the scale value, or the text of a scale point in any language."""
    try:
        return whole_number(value)
    except CellError:
        folded = " ".join(_text(value).split()).casefold()
        for point in scale:
            if folded in {" ".join(t.split()).casefold() for t in point.text.values()}:
                return int(point.value)
        raise
