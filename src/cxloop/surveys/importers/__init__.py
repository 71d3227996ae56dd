"""Survey import from the tools people leave: Qualtrics .qsf, LimeSurvey
.lss, SurveyJS JSON and XLSForm (.xlsx/.xls). Each importer maps what it
can into a cxloop definition (validated like POST /api/v1/surveys) and lists
everything else in ``warnings``; an unreadable file raises ImportUnreadable.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from cxloop.surveys.importers.common import ImportResult, ImportUnreadable, unreadable

MAX_IMPORT_BYTES = 5 * 1024 * 1024
FORMATS = ("qsf", "lss", "surveyjs", "xlsform")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise unreadable(f"The file is not valid UTF-8 text (byte {exc.start}).") from exc


def _json(data: bytes) -> Any:
    try:
        return json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise unreadable(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    except RecursionError as exc:
        raise unreadable("The JSON is nested too deeply.") from exc


def detect(filename: str, data: bytes) -> str:
    """The format by content first (magic bytes, JSON keys, XML root), then by extension."""
    head = data[:512].lstrip()
    suffix = PurePath(filename or "").suffix.lower()
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xlsform"
    if head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf<"):
        return "lss"
    if head[:1] in (b"{", b"[") or head.startswith(b"\xef\xbb\xbf"):
        return "json"
    if suffix in (".xlsx", ".xls"):
        return "xlsform"
    if suffix in (".lss", ".lsg", ".lsq", ".xml"):
        return "lss"
    if suffix in (".qsf", ".json"):
        return "json"
    raise unreadable(
        "Unknown survey file: expected a Qualtrics .qsf, LimeSurvey .lss, SurveyJS .json "
        "or XLSForm .xlsx/.xls."
    )


def import_survey(filename: str, data: bytes) -> ImportResult:
    """The definition and warnings for an uploaded file; raises ImportUnreadable."""
    if len(data) > MAX_IMPORT_BYTES:
        raise unreadable(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    if not data.strip():
        raise unreadable("The file is empty.")
    kind = detect(filename, data)
    try:
        return _import(kind, filename, data)
    except ImportUnreadable:
        raise
    except (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError) as exc:
        # A file that parses but is shaped unlike any export of its tool: refused, never a 500.
        raise unreadable(
            f"The file does not have the structure of a {kind} survey export ({exc!r:.200})."
        ) from exc


def _import(kind: str, filename: str, data: bytes) -> ImportResult:
    if kind == "xlsform":
        from cxloop.surveys.importers.xlsform import import_xlsform

        return import_xlsform(filename, data)
    if kind == "lss":
        from cxloop.surveys.importers.limesurvey_lss import import_lss

        return import_lss(data)
    document = _json(data)
    from cxloop.surveys.importers import qualtrics_qsf, surveyjs

    if qualtrics_qsf.looks_like(document):
        return qualtrics_qsf.import_qsf(document)
    if surveyjs.looks_like(document):
        return surveyjs.import_surveyjs(document)
    raise unreadable("This JSON is neither a Qualtrics .qsf export nor a SurveyJS survey definition.")


__all__ = ["FORMATS", "MAX_IMPORT_BYTES", "ImportResult", "ImportUnreadable", "detect", "import_survey"]
