"""Qualtrics ``.qsf`` (a JSON export): blocks become pages, questions map by
QuestionType/Selector, translations come from each question's ``Language``.
"""

from __future__ import annotations

import re
from typing import Any

from cxloop.kit.numbers import ascii_digits
from cxloop.surveys.importers.common import Builder, ImportResult, choice_ids, plain_text, unreadable

_SINGLE = {"SAVR", "SAHR", "SACOL"}
_MULTI = {"MAVR", "MAHR", "MACOL", "MSB"}
_DROPDOWN = {"DL", "SB"}
_TEXT_CONTENT = {"ValidNumber": "number", "ValidEmail": "email", "ValidPhone": "phone", "ValidDate": "date"}
_LOCATOR = re.compile(r"^q://(QID\d+)/(SelectableChoice|SelectedChoice)/(\d+)$")


def looks_like(document: Any) -> bool:
    return isinstance(document, dict) and "SurveyEntry" in document and "SurveyElements" in document


def _ordered(mapping: Any, order: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(mapping, list):
        mapping = {str(i + 1): v for i, v in enumerate(mapping) if isinstance(v, dict)}
    if not isinstance(mapping, dict):
        return []
    keys = [str(k) for k in order] if isinstance(order, list) and order else list(mapping)
    keys += [k for k in mapping if k not in keys]
    return [(k, mapping[k]) for k in keys if isinstance(mapping.get(k), dict)]


class _Qsf:
    def __init__(self, document: dict[str, Any]) -> None:
        self.entry: dict[str, Any] = document["SurveyEntry"]
        self.elements: list[dict[str, Any]] = [e for e in document["SurveyElements"] if isinstance(e, dict)]
        self.b = Builder("Qualtrics QSF")
        # QID -> (cxloop id, {choice key: choice id}, multiple?, page index)
        self.mapped: dict[str, tuple[str, dict[str, str], bool, int]] = {}

    def run(self) -> ImportResult:
        b = self.b
        language = b.add_language(str(self.entry.get("SurveyLanguage") or "EN"), "SurveyEntry.SurveyLanguage")
        b.default_language = language or "en"
        b.title = b.lang(self.entry.get("SurveyName"))
        if description := plain_text(self.entry.get("SurveyDescription")):
            b.description = {b.default_language: description}
        questions = {
            e["Payload"]["QuestionID"]: e["Payload"]
            for e in self.elements
            if e.get("Element") == "SQ"
            and isinstance(e.get("Payload"), dict)
            and "QuestionID" in e["Payload"]
        }
        placed: set[str] = set()
        for block in self._blocks():
            if block.get("Type") == "Trash":
                for item in block.get("BlockElements") or []:
                    if item.get("QuestionID"):
                        placed.add(item["QuestionID"])
                        b.warn(item["QuestionID"], "in the Qualtrics trash; not imported")
                continue
            page = b.new_page(b.lang(block.get("Description")), "page")
            for item in block.get("BlockElements") or []:
                if item.get("Type") == "Page Break":
                    page = b.new_page(hint="page")
                    continue
                qid = item.get("QuestionID")
                if not qid:
                    continue
                placed.add(qid)
                if qid not in questions:
                    b.warn(qid, "the block names a question the file does not contain")
                    continue
                if item.get("SkipLogic"):
                    b.warn(qid, "skip logic is not imported; set it again on the page")
                self._question(questions[qid], page)
        for qid in questions:
            if qid not in placed:
                b.warn(qid, "not in any block; not imported")
        self._flow()
        for element in self.elements:
            kind = element.get("Element")
            if kind in (
                "QC",
                "SO",
                "SCO",
                "STAT",
                "RS",
                "BL",
                "FL",
                "SQ",
                "PROJ",
                "SCR",
                "NT",
                "TR",
                "QO",
                "QG",
            ):
                if kind == "SCO":
                    b.warn("SCO", "scoring is not imported")
                elif kind == "QO":
                    b.warn("QO", "quotas are not imported")
                elif kind == "NT":
                    b.warn("NT", "notes are not imported")
                continue
            b.warn(str(kind), f"survey element {kind!r} is not imported")
        return b.finish()

    def _blocks(self) -> list[dict[str, Any]]:
        payload: Any = next((e.get("Payload") for e in self.elements if e.get("Element") == "BL"), None)
        blocks = list(payload.values()) if isinstance(payload, dict) else list(payload or [])
        blocks = [x for x in blocks if isinstance(x, dict)]
        order = [f.get("ID") for f in self._flow_items() if f.get("Type") in ("Block", "Standard")]
        by_id = {x.get("ID"): x for x in blocks}
        ordered: list[dict[str, Any]] = []
        for block_id in order:
            if block_id in by_id and by_id[block_id] not in ordered:
                ordered.append(by_id[block_id])
        return ordered + [x for x in blocks if x not in ordered]

    def _flow_items(self) -> list[dict[str, Any]]:
        flow: Any = next((e.get("Payload") for e in self.elements if e.get("Element") == "FL"), None)
        found: list[dict[str, Any]] = []
        stack = [flow] if isinstance(flow, dict) else []
        while stack:
            node = stack.pop(0)
            found.append(node)
            children = node.get("Flow")
            stack[0:0] = [c for c in children if isinstance(c, dict)] if isinstance(children, list) else []
        return found

    def _flow(self) -> None:
        for item in self._flow_items()[1:]:
            kind = item.get("Type")
            if kind == "EmbeddedData":
                for field in item.get("EmbeddedData") or []:
                    name = field.get("Field") if isinstance(field, dict) else None
                    if name:
                        self.b.add_embedded(str(name), field.get("Value"), "FL EmbeddedData")
            elif kind not in ("Block", "Standard", "Root"):
                self.b.warn(
                    f"FL {item.get('FlowID', '')}".strip(), f"survey flow element {kind!r} is not imported"
                )

    def _translations(
        self, q: dict[str, Any], key: str, choice: str | None = None, part: str = "Choices"
    ) -> dict[str, str]:
        texts: dict[str, str] = {}
        languages = q.get("Language")
        if not isinstance(languages, dict):
            return texts
        for raw, translated in languages.items():
            if not isinstance(translated, dict):
                continue
            language = self.b.add_language(raw, f"{q['QuestionID']}.Language")
            if language is None or language == self.b.default_language:
                continue
            value = translated.get(part, {}).get(choice, {}).get("Display") if choice else translated.get(key)
            if text := plain_text(value):
                texts[language] = text
        return texts

    def _text(self, q: dict[str, Any]) -> dict[str, str]:
        text = (
            self.b.lang(q.get("QuestionText"))
            or self.b.lang(q.get("DataExportTag"))
            or self.b.lang(q["QuestionID"])
        )
        return {**text, **self._translations(q, "QuestionText")}

    def _choices(
        self, q: dict[str, Any], part: str = "Choices"
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        items = _ordered(q.get(part), q.get("ChoiceOrder") if part == "Choices" else q.get("AnswerOrder"))
        ids = choice_ids([f"{'c' if part == 'Choices' else 'a'}{k}" for k, _ in items])
        out: list[dict[str, Any]] = []
        for (key, item), cid in zip(items, ids, strict=True):
            text = self.b.lang(item.get("Display")) or {self.b.default_language: key}
            choice: dict[str, Any] = {"id": cid, "text": {**text, **self._translations(q, "", key, part)}}
            if str(item.get("TextEntry", "")).lower() in ("true", "on", "1"):
                choice["other"] = True
            out.append(choice)
        return out, {key: cid for (key, _), cid in zip(items, ids, strict=True)}

    def _question(self, q: dict[str, Any], page: dict[str, Any]) -> None:
        b, qid = self.b, q["QuestionID"]
        kind, selector = q.get("QuestionType"), q.get("Selector")
        sub = q.get("SubSelector")
        base: dict[str, Any] = {
            "id": b.question_id(str(q.get("DataExportTag") or qid), qid),
            "text": self._text(q),
        }
        validation = (q.get("Validation") or {}).get("Settings") or {}
        if str(validation.get("ForceResponse", "")).upper() in ("ON", "REQUEST"):
            base["required"] = True
            if validation.get("ForceResponse") == "REQUEST":
                b.warn(qid, "'request response' is imported as required")
        question: dict[str, Any] | None = None
        keymap: dict[str, str] = {}
        multiple = False
        if kind == "MC" and selector == "NPS":
            question = {**base, "type": "nps"}
        elif kind == "MC":
            choices, keymap = self._choices(q)
            if selector in _MULTI:
                question, multiple = {**base, "type": "multiple_choice", "choices": choices}, True
            else:
                if selector not in _SINGLE | _DROPDOWN:
                    b.warn(qid, f"choice layout {selector!r} is imported as a single choice")
                question = {
                    **base,
                    "type": "dropdown" if selector in _DROPDOWN else "single_choice",
                    "choices": choices,
                }
            if not choices:
                question = None
                b.warn(qid, "a choice question without choices; not imported")
        elif kind == "TE":
            question = self._text_entry(q, base, selector)
        elif kind == "Matrix":
            question = self._matrix(q, base, selector, sub)
        elif kind == "RO":
            choices, keymap = self._choices(q)
            if len(choices) >= 2:
                question = {**base, "type": "ranking", "choices": choices}
            else:
                b.warn(qid, "a rank order with fewer than two items; not imported")
        elif kind == "Slider":
            question = self._slider(q, base, page)
        elif kind == "DB":
            b.warn(
                qid,
                "descriptive text is not a question; not imported: "
                f"{plain_text(q.get('QuestionText'))[:200]!r}",
            )
        else:
            b.warn(qid, f"question type {kind}/{selector} has no cxloop equivalent; not imported")
        if question is None:
            return
        if (q.get("Randomization") or {}) and question["type"] in (
            "single_choice",
            "multiple_choice",
            "dropdown",
            "ranking",
        ):
            question["randomize"] = True
        logic = self._display_logic(q)
        if logic is not None:
            question["display_logic"] = logic
        b.place(question, qid)
        self.mapped[qid] = (question["id"], keymap, multiple, len(b.pages) - 1)

    def _text_entry(self, q: dict[str, Any], base: dict[str, Any], selector: Any) -> dict[str, Any] | None:
        qid = q["QuestionID"]
        content = ((q.get("Validation") or {}).get("Settings") or {}).get("ContentType")
        if selector == "FORM":
            fields, _ = self._choices(q)
            self.b.warn(qid, f"a form of {len(fields)} fields is imported as one long text question")
            return {**base, "type": "text", "size": "long"}
        if content in _TEXT_CONTENT:
            return {**base, "type": _TEXT_CONTENT[content]}
        if content:
            self.b.warn(qid, f"content validation {content!r} is not imported")
        return {**base, "type": "text", "size": "long" if selector in ("ML", "ESTB") else "short"}

    def _matrix(
        self, q: dict[str, Any], base: dict[str, Any], selector: Any, sub: Any
    ) -> dict[str, Any] | None:
        qid = q["QuestionID"]
        rows, _ = self._choices(q)
        answers, _ = self._choices(q, "Answers")
        if selector not in ("Likert", "Bipolar") or not rows or len(answers) < 2:
            self.b.warn(qid, f"matrix {selector}/{sub} has no cxloop equivalent; not imported")
            return None
        if sub == "MultipleAnswer":
            self.b.warn(qid, "a multiple-answer matrix is imported as one answer per row")
        elif sub not in (None, "SingleAnswer", "DL"):
            self.b.warn(qid, f"matrix layout {sub!r} is imported as a plain matrix")
        if len(answers) > 11:
            self.b.warn(qid, f"{len(answers) - 11} scale points beyond the 11 cxloop allows are not imported")
            answers = answers[:11]
        if any(a.get("other") for a in answers + rows):
            self.b.warn(qid, "text entry on matrix rows or columns is not imported")
        scale = [{"value": index + 1, "text": a["text"]} for index, a in enumerate(answers)]
        return {
            **base,
            "type": "matrix",
            "rows": [{"id": "r" + r["id"][1:], "text": r["text"]} for r in rows],
            "scale": scale,
        }

    def _slider(self, q: dict[str, Any], base: dict[str, Any], page: dict[str, Any]) -> dict[str, Any] | None:
        config = q.get("Configuration") or {}
        low, high = config.get("CSSliderMin", 0), config.get("CSSliderMax", 100)
        items, _ = self._choices(q)
        number: dict[str, Any] = {"type": "number"}
        if isinstance(low, int | float) and isinstance(high, int | float) and low <= high:
            number.update(min=low, max=high)
        if len(items) <= 1:
            return {**base, **number}
        self.b.warn(q["QuestionID"], f"a slider with {len(items)} bars becomes {len(items)} number questions")
        for item in items:
            sub_id = self.b.question_id(f"{base['id']}_{item['id']}", q["QuestionID"])
            text = {
                lang: f"{base['text'].get(lang, '')} – {t}".strip(" –")[:5000]
                for lang, t in item["text"].items()
            }
            self.b.place({**base, **number, "id": sub_id, "text": text}, q["QuestionID"])
        return None

    def _display_logic(self, q: dict[str, Any]) -> dict[str, Any] | None:
        logic = q.get("DisplayLogic")
        if not isinstance(logic, dict):
            return None
        qid = q["QuestionID"]
        conditions: list[dict[str, Any]] = []
        joins: set[str] = set()
        for key, group in sorted(
            ((k, v) for k, v in logic.items() if ascii_digits(k)), key=lambda kv: int(kv[0])
        ):
            if not isinstance(group, dict):
                continue
            for index, (_, expr) in enumerate(
                sorted(((k, v) for k, v in group.items() if ascii_digits(k)), key=lambda kv: int(kv[0]))
            ):
                if index or key != "0":
                    joins.add(str(expr.get("Conjuction") or group.get("Conjuction") or "And"))
                conditions.append(self._comparison(expr) or {})
        if not conditions or any(not c for c in conditions) or len(joins) > 1:
            b_desc = plain_text(str(logic.get("0", {}).get("0", {}).get("Description", "")))
            self.b.warn(qid, f"display logic not imported (not expressible): {b_desc[:300]!r}")
            return None
        if len(conditions) == 1:
            return conditions[0]
        return {"all" if joins == {"And"} else "any": conditions}

    def _comparison(self, expr: Any) -> dict[str, Any] | None:
        if not isinstance(expr, dict) or expr.get("LogicType") != "Question":
            return None
        match = _LOCATOR.match(str(expr.get("ChoiceLocator") or expr.get("LeftOperand") or ""))
        if not match or match.group(1) not in self.mapped:
            return None
        field, keymap, multiple, _ = self.mapped[match.group(1)]
        choice = keymap.get(match.group(3))
        operator = expr.get("Operator")
        if choice is None or operator not in ("Selected", "NotSelected"):
            return None
        comparison = {
            "source": "answers",
            "field": field,
            "op": "contains" if multiple else "eq",
            "value": choice,
        }
        return comparison if operator == "Selected" else {"not": comparison}


def import_qsf(document: dict[str, Any]) -> ImportResult:
    if (
        not looks_like(document)
        or not isinstance(document["SurveyEntry"], dict)
        or not isinstance(document["SurveyElements"], list)
    ):
        raise unreadable("This is not a Qualtrics survey export (.qsf).")
    return _Qsf(document).run()
