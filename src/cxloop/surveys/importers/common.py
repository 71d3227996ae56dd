"""What every importer shares: the result, the warnings, ids, text and the
final validation that repairs what the definition model cannot take
(logic that refers forward, say) by turning it into a warning.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.surveys.definition import parse_definition

MAX_TEXT = 5000
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_NOT_ID = re.compile(r"[^A-Za-z0-9_]+")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Language codes the source tools spell their own way.
_LANGUAGE_ALIASES = {"zh-s": "zh-CN", "zh-t": "zh-TW", "zh-hans": "zh-CN", "zh-hant": "zh-TW", "default": ""}


class ImportUnreadable(ValidationFailed):
    """The file is not a survey this importer can read: nothing is created."""

    default_code = "import_unreadable"


def unreadable(message: str, source: str = "file") -> ImportUnreadable:
    return ImportUnreadable(message, errors=[FieldError(source, message)])


@dataclass
class ImportResult:
    definition: dict[str, Any]
    warnings: list[dict[str, str]]
    source_format: str


@dataclass
class Builder:
    """Collects pages, questions and warnings with unique, valid ids."""

    source_format: str
    default_language: str = "en"
    languages: list[str] = field(default_factory=list)
    title: dict[str, str] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)
    pages: list[dict[str, Any]] = field(default_factory=list)
    embedded: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    _question_ids: set[str] = field(default_factory=set)
    _page_ids: set[str] = field(default_factory=set)

    def warn(self, source: str, message: str) -> None:
        self.warnings.append({"source": source, "message": message})

    def new_page(self, title: dict[str, str] | None = None, hint: str = "page") -> dict[str, Any]:
        page: dict[str, Any] = {"id": unique(ident(hint, "page"), self._page_ids), "questions": []}
        if title:
            page["title"] = title
        self.pages.append(page)
        return page

    def current_page(self) -> dict[str, Any]:
        return self.pages[-1] if self.pages else self.new_page()

    def place(self, question: dict[str, Any], source: str) -> None:
        """Append to the last page; when its display logic needs an answer from that same page,
        start a new page first (cxloop conditions look at earlier pages only)."""
        page = self.current_page()
        on_page = {q["id"] for q in page["questions"]}
        needed = sorted(_answer_fields(question.get("display_logic")) & on_page)
        if needed:
            self.warn(
                source, f"a new page starts at {question['id']!r} so its display logic can use {needed}"
            )
            page = self.new_page(hint=page["id"])
        page["questions"].append(question)

    def question_id(self, raw: str, source: str) -> str:
        wanted = ident(raw, "q")
        if wanted != raw:
            self.warn(source, f"id {raw!r} is not a valid cxloop id; imported as {wanted!r}")
        question_id = unique(wanted, self._question_ids)
        if question_id != wanted:
            self.warn(source, f"id {wanted!r} is used twice; this one imported as {question_id!r}")
        return question_id

    def add_embedded(self, name: str, default: str | None, source: str) -> None:
        wanted = ident(name, "field")
        if wanted in {e["name"] for e in self.embedded}:
            return
        if wanted != name:
            self.warn(source, f"embedded field {name!r} imported as {wanted!r}")
        entry: dict[str, Any] = {"name": wanted}
        if default:
            entry["default"] = default[:500]
        self.embedded.append(entry)

    def add_language(self, raw: str, source: str) -> str | None:
        language = language_code(raw)
        if language is None:
            self.warn(source, f"language {raw!r} is not a language code cxloop knows; its texts are left out")
            return None
        if language not in self.languages:
            self.languages.append(language)
        return language

    def lang(self, text: str | None, language: str | None = None) -> dict[str, str]:
        cleaned = plain_text(text)
        return {language or self.default_language: cleaned} if cleaned else {}

    def document(self) -> dict[str, Any]:
        languages = self.languages or [self.default_language]
        if self.default_language not in languages:
            languages.insert(0, self.default_language)
        document: dict[str, Any] = {
            "title": self.title or {self.default_language: f"Imported {self.source_format} survey"},
            "languages": languages,
            "default_language": self.default_language,
            "pages": self.pages or [{"id": "page1", "questions": []}],
        }
        if self.description:
            document["description"] = self.description
        if self.embedded:
            document["embedded"] = self.embedded
        return document

    def finish(self) -> ImportResult:
        document = self.document()
        _fit_texts(document, "", self.warnings)
        document = validated(document, self.warnings)
        return ImportResult(document, self.warnings, self.source_format)


def _answer_fields(condition: Any) -> set[str]:
    if isinstance(condition, dict):
        if condition.get("source") == "answers" and isinstance(condition.get("field"), str):
            return {condition["field"]}
        return set().union(*(_answer_fields(v) for v in condition.values())) if condition else set()
    if isinstance(condition, list):
        return set().union(*(_answer_fields(v) for v in condition)) if condition else set()
    return set()


def _fit_texts(value: Any, path: str, warnings: list[dict[str, str]]) -> None:
    """Cut texts over MAX_TEXT characters, each with a warning (the model refuses longer ones)."""
    if isinstance(value, dict):
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(child, str) and len(child) > MAX_TEXT:
                value[key] = child[:MAX_TEXT]
                warnings.append(
                    {"source": where, "message": f"text cut to {MAX_TEXT} of {len(child)} characters"}
                )
            else:
                _fit_texts(child, where, warnings)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _fit_texts(child, f"{path}[{index}]", warnings)


def ident(raw: str, prefix: str) -> str:
    """A valid id (letter first, letters, digits, _) as close to ``raw`` as possible."""
    cleaned = _NOT_ID.sub("_", str(raw)).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"{prefix}{'_' if cleaned and not cleaned[0].isdigit() else ''}{cleaned}"
    return cleaned[:64]


def unique(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 2
    while candidate in taken or candidate == "end":
        suffix = f"_{n}"
        candidate, n = wanted[: 64 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def choice_ids(values: list[str], prefix: str = "c") -> list[str]:
    """Unique choice ids for source values, keeping each value when it is already valid."""
    taken: set[str] = set()
    return [unique(ident(value, prefix), taken) for value in values]


def plain_text(text: Any) -> str:
    """Markup to plain text; piping braces neutralised."""
    if text is None:
        return ""
    value = _BREAK.sub("\n", str(text))
    value = html.unescape(_TAG.sub("", value)).replace("\x00", "")
    value = value.replace("{{", "{ {").replace("}}", "} }")
    lines = [_SPACE.sub(" ", line).strip() for line in value.split("\n")]
    return "\n".join(line for line in lines if line)


def language_code(raw: str) -> str | None:
    value = str(raw).strip().replace("_", "-")
    alias = _LANGUAGE_ALIASES.get(value.lower())
    if alias is not None:
        return alias or None
    head, _, rest = value.partition("-")
    code = head.lower() + (f"-{rest.upper() if len(rest) == 2 else rest}" if rest else "")
    return code if LANGUAGE.match(code) else None


def _drop(document: dict[str, Any], path: list[Any]) -> bool:
    """Remove the logic at ``path`` (display_logic or a skip rule); False if there is none."""
    node: Any = document
    for index, part in enumerate(path):
        if part == "display_logic" and isinstance(node, dict):
            return node.pop("display_logic", None) is not None
        if part == "skip_logic" and isinstance(node, dict) and index + 1 < len(path):
            rules = node.get("skip_logic", [])
            position = path[index + 1]
            if isinstance(position, int) and position < len(rules):
                rules.pop(position)
                return True
            return False
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return False


_PATH_PART = re.compile(r"([A-Za-z_]+)|\[(\d+)\]")


def _parts(path: str) -> list[Any]:
    return [
        int(index) if index else name for name, index in _PATH_PART.findall(path.removeprefix("definition"))
    ]


def validated(document: dict[str, Any], warnings: list[dict[str, str]]) -> dict[str, Any]:
    """The document as the surveys API would store it; logic the model refuses becomes a warning."""
    for _ in range(50):
        try:
            definition = parse_definition(document)
        except ValidationFailed as failure:
            repaired = False
            for error in failure.errors:
                parts = _parts(error.path)
                if ("display_logic" in parts or "skip_logic" in parts) and _drop(document, parts):
                    warnings.append({"source": error.path, "message": f"logic left out: {error.message}"})
                    repaired = True
                    break
            if not repaired:
                raise ImportUnreadable(
                    "The file was read but does not make a valid survey; see errors.",
                    code="import_invalid",
                    errors=failure.errors,
                ) from failure
            continue
        dumped: dict[str, Any] = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
    raise ImportUnreadable("The file's logic could not be repaired.", code="import_invalid")
