"""LimeSurvey ``.lss`` (XML, parsed with defusedxml so entity tricks are
refused): groups become pages, questions map by their one-letter type, the
``*_l10ns`` tables (or the older per-language rows) become translations.
LimeSurvey relevance equations are not structured logic: each is a warning.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from cxloop.surveys.importers.common import Builder, ImportResult, choice_ids, plain_text, unreadable

Table = list[dict[str, str]]

_CHOICE_TYPES = {
    "L": "single_choice",
    "!": "dropdown",
    "O": "single_choice",
    "M": "multiple_choice",
    "P": "multiple_choice",
}
_ARRAY_SCALES = {
    "A": [(i, str(i)) for i in range(1, 6)],
    "B": [(i, str(i)) for i in range(1, 11)],
    "C": [(1, "Yes"), (2, "Uncertain"), (3, "No")],
    "E": [(1, "Increase"), (2, "Same"), (3, "Decrease")],
}
_TEXT_TYPES = {"S": "short", "T": "long", "U": "long"}
_SKIPPED = {
    "X": "text display",
    "*": "equation",
    "|": "file upload",
    "I": "language switch",
    "1": "dual-scale array",
    ":": "array of numbers",
    ";": "array of texts",
}


def _tables(root: Element) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for section in root:
        rows = section.find("rows")
        if rows is None:
            continue
        tables[section.tag] = [{cell.tag: (cell.text or "") for cell in row} for row in rows.findall("row")]
    return tables


def _by(table: Table, key: str) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in table:
        grouped[row.get(key, "")].append(row)
    return grouped


def _order(row: dict[str, str], key: str) -> int:
    try:
        return int(row.get(key) or 0)
    except ValueError:
        return 0


class _Lss:
    def __init__(self, root: Element) -> None:
        self.t = _tables(root)
        self.b = Builder("LimeSurvey LSS")
        self.root = root

    def texts(self, rows: list[dict[str, str]], field: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for row in rows:
            language = self.b.add_language(row.get("language") or self.b.default_language, "languages")
            if language and (text := plain_text(row.get(field))):
                out.setdefault(language, text)
        if out and self.b.default_language not in out:
            out[self.b.default_language] = next(iter(out.values()))
        return out

    def run(self) -> ImportResult:
        b, t = self.b, self.t
        declared = [e.text or "" for e in self.root.iterfind("languages/language")]
        base_language = next((r.get("language") for r in t.get("surveys", []) if r.get("language")), None)
        first = base_language or (declared[0] if declared else "en")
        b.default_language = b.add_language(first, "surveys.language") or "en"
        for language in declared:
            b.add_language(language, "languages")
        settings = t.get("surveys_languagesettings", [])
        b.title = self.texts(
            [{**r, "language": r.get("surveyls_language", "")} for r in settings], "surveyls_title"
        )
        b.description = self.texts(
            [{**r, "language": r.get("surveyls_language", "")} for r in settings], "surveyls_description"
        )
        if any(r.get("surveyls_endtext") for r in settings):
            b.warn("surveys_languagesettings", "the end text is not imported; set a thank-you message")
        for name in (
            "conditions",
            "assessments",
            "quota",
            "quota_members",
            "quota_languagesettings",
            "survey_url_parameters",
        ):
            if t.get(name):
                b.warn(name, f"{len(t[name])} {name.replace('_', ' ')} rows are not imported")
        attributes = sorted(
            {r.get("attribute", "") for r in t.get("question_attributes", []) if r.get("value")}
        )
        if attributes:
            b.warn(
                "question_attributes",
                "question display attributes are not imported: " + ", ".join(attributes)[:1000],
            )
        l10n_groups = _by(t.get("group_l10ns", []) or t.get("groups", []), "gid")
        l10n_questions = _by(
            t.get("question_l10ns", []) or t.get("questions", []) + t.get("subquestions", []), "qid"
        )
        self.l10n_answers = _by(t.get("answer_l10ns", []), "aid")
        self.answers = _by(t.get("answers", []), "qid")
        self.l10n_questions = l10n_questions
        questions = [q for q in t.get("questions", []) if q.get("parent_qid") in (None, "", "0")]
        self.subquestions = _by(
            t.get("subquestions", [])
            + [q for q in t.get("questions", []) if q.get("parent_qid") not in (None, "", "0")],
            "parent_qid",
        )
        by_group = _by(questions, "gid")
        groups: dict[str, dict[str, str]] = {}
        for row in t.get("groups", []):
            groups.setdefault(row.get("gid", ""), row)
        if not groups and by_group:
            groups = {gid: {"gid": gid} for gid in by_group}
        for gid, group in sorted(groups.items(), key=lambda kv: _order(kv[1], "group_order")):
            page = b.new_page(self.texts(l10n_groups.get(gid, []), "group_name"), f"g{gid}")
            if (group.get("grelevance") or "1").strip() not in ("", "1"):
                b.warn(f"group {gid}", f"relevance equation {group['grelevance']!r} is not imported")
            seen: set[str] = set()
            for q in sorted(by_group.get(gid, []), key=lambda r: _order(r, "question_order")):
                if q.get("qid") in seen:
                    continue
                seen.add(q.get("qid", ""))
                self._question(q, page)
        return b.finish()

    def _answer_choices(self, qid: str, scale: str = "0") -> list[tuple[str, dict[str, str]]]:
        rows = [r for r in self.answers.get(qid, []) if (r.get("scale_id") or "0") == scale]
        picked: dict[str, dict[str, str]] = {}
        order: list[tuple[int, str]] = []
        for row in rows:
            code = row.get("code", "")
            texts = (
                self.texts(self.l10n_answers.get(row.get("aid", ""), []), "answer")
                if row.get("aid")
                else self.texts([row], "answer")
            )
            if code not in picked:
                order.append((_order(row, "sortorder"), code))
                picked[code] = {}
            for language, text in texts.items():
                picked[code].setdefault(language, text)
        return [(code, picked[code] or {self.b.default_language: code}) for _, code in sorted(order)]

    def _subquestions(self, qid: str) -> list[tuple[str, dict[str, str]]]:
        found: dict[str, tuple[int, str, dict[str, str]]] = {}
        for row in self.subquestions.get(qid, []):
            if (row.get("scale_id") or "0") != "0":
                continue
            texts = self.texts(self.l10n_questions.get(row.get("qid", ""), []) or [row], "question")
            code = row.get("title", "")
            previous = found.get(code)
            merged = {**texts, **(previous[2] if previous else {})}
            found[code] = (_order(row, "question_order"), code, merged)
        return [(code, texts or {self.b.default_language: code}) for _, code, texts in sorted(found.values())]

    def _question(self, q: dict[str, str], page: dict[str, Any]) -> None:
        b, qid, kind = self.b, q.get("qid", ""), q.get("type", "")
        source = f"question {q.get('title') or qid} (qid {qid})"
        texts = self.texts(self.l10n_questions.get(qid, []), "question") or b.lang(q.get("title") or qid)
        base: dict[str, Any] = {"id": b.question_id(q.get("title") or f"q{qid}", source), "text": texts}
        if help_text := self.texts(self.l10n_questions.get(qid, []), "help"):
            base["description"] = help_text
        if q.get("mandatory") == "Y":
            base["required"] = True
        if (q.get("relevance") or "1").strip() not in ("", "1"):
            b.warn(source, f"relevance equation {q['relevance']!r} is not imported")
        question: dict[str, Any] | None = None
        if kind in _CHOICE_TYPES:
            items = self._subquestions(qid) if kind in {"M", "P"} else self._answer_choices(qid)
            ids = choice_ids([code for code, _ in items])
            choices: list[dict[str, Any]] = [
                {"id": cid, "text": text} for cid, (_, text) in zip(ids, items, strict=True)
            ]
            if q.get("other") == "Y":
                choices.append(
                    {
                        "id": "other" if "other" not in ids else "other_2",
                        "text": {b.default_language: "Other"},
                        "other": True,
                    }
                )
            if kind in ("O", "P"):
                b.warn(source, "the comment box beside the choices is not imported")
            if choices:
                question = {**base, "type": _CHOICE_TYPES[kind], "choices": choices}
        elif kind in ("F", "H", *_ARRAY_SCALES):
            rows = self._subquestions(qid)
            scale_items = _ARRAY_SCALES.get(kind) or [
                (i + 1, code) for i, (code, _) in enumerate(self._answer_choices(qid))
            ]
            labels = dict(self._answer_choices(qid)) if kind in ("F", "H") else {}
            if kind == "H":
                b.warn(source, "an array by column is imported as a matrix by row")
            if len(scale_items) > 11:
                b.warn(
                    source,
                    f"{len(scale_items) - 11} scale points beyond the 11 cxloop allows are not imported",
                )
            scale = [
                {"value": v, "text": labels.get(code) or {b.default_language: code}}
                for v, code in scale_items[:11]
            ]
            row_ids = choice_ids([code for code, _ in rows], "r")
            if rows and len(scale) >= 2:
                question = {
                    **base,
                    "type": "matrix",
                    "rows": [{"id": rid, "text": text} for rid, (_, text) in zip(row_ids, rows, strict=True)],
                    "scale": scale,
                }
        elif kind in _TEXT_TYPES:
            question = {**base, "type": "text", "size": _TEXT_TYPES[kind]}
        elif kind == "N":
            question = {**base, "type": "number"}
        elif kind == "D":
            question = {**base, "type": "date"}
        elif kind in ("Q", "K"):
            b.warn(source, "each field of a multiple text/numerical question becomes its own question")
            for code, text in self._subquestions(qid):
                sub_id = b.question_id(f"{base['id']}_{code}", source)
                b.place({"id": sub_id, "type": "text" if kind == "Q" else "number", "text": text}, source)
            return
        elif kind in ("G", "Y"):
            pairs = [("F", "Female"), ("M", "Male")] if kind == "G" else [("Y", "Yes"), ("N", "No")]
            question = {
                **base,
                "type": "single_choice",
                "choices": [{"id": c, "text": {b.default_language: label}} for c, label in pairs],
            }
        elif kind == "5":
            question = {**base, "type": "rating", "points": 5}
        elif kind == "R":
            items = self._answer_choices(qid)
            ids = choice_ids([code for code, _ in items])
            if len(items) >= 2:
                question = {
                    **base,
                    "type": "ranking",
                    "choices": [{"id": cid, "text": text} for cid, (_, text) in zip(ids, items, strict=True)],
                }
        if question is None:
            what = _SKIPPED.get(kind, f"type {kind!r}")
            b.warn(source, f"{what} has no cxloop equivalent or no usable options; not imported")
            return
        b.place(question, source)


def import_lss(data: bytes) -> ImportResult:
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise unreadable(f"The file is not readable XML: {exc}") from exc
    if root.tag != "document" or root.find("LimeSurveyDocType") is None:
        raise unreadable("This XML is not a LimeSurvey export (.lss).")
    return _Lss(root).run()
