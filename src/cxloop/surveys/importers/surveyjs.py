"""SurveyJS JSON: pages and elements (panels flattened), localisable
strings as translations, ``visibleIf`` as structured logic when simple.
"""

from __future__ import annotations

from typing import Any

from cxloop.surveys.importers.common import Builder, ImportResult, choice_ids, plain_text, unreadable
from cxloop.surveys.importers.expressions import parse_expression

MAX_PANEL_DEPTH = 10
_TEXT_INPUTS = {"number": "number", "email": "email", "tel": "phone", "date": "date", "range": "number"}
_SKIPPED = {
    "html",
    "image",
    "expression",
    "file",
    "signaturepad",
    "matrixdropdown",
    "matrixdynamic",
    "paneldynamic",
}


def _unwrap(document: Any) -> Any:
    if isinstance(document, dict) and isinstance(document.get("json"), dict | str):
        return document["json"]
    return document


def looks_like(document: Any) -> bool:
    inner = _unwrap(document)
    return isinstance(inner, dict) and any(
        isinstance(inner.get(k), list) for k in ("pages", "elements", "questions")
    )


class _SurveyJs:
    def __init__(self, survey: dict[str, Any], name: Any) -> None:
        self.survey = survey
        self.b = Builder("SurveyJS")
        self.name = name
        # source name -> (id, {value: choice id}, multiple?)
        self.mapped: dict[str, tuple[str, dict[str, str], bool]] = {}

    def texts(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            out: dict[str, str] = {}
            for raw, text in value.items():
                language = self.b.default_language if raw == "default" else self.b.add_language(raw, "locale")
                if language and (cleaned := plain_text(text)):
                    out[language] = cleaned
            if self.b.default_language not in out and out:
                out[self.b.default_language] = next(iter(out.values()))
            return out
        return self.b.lang(str(value)) if isinstance(value, str | int | float) else {}

    def run(self) -> ImportResult:
        b, survey = self.b, self.survey
        locale = survey.get("locale")
        if isinstance(locale, str):
            b.default_language = b.add_language(locale, "locale") or "en"
        b.title = self.texts(survey.get("title")) or self.texts(self.name)
        b.description = self.texts(survey.get("description"))
        pages = survey.get("pages")
        if not isinstance(pages, list):
            pages = [{"elements": survey.get("elements") or survey.get("questions") or []}]
        for index, raw_page in enumerate(pages):
            if not isinstance(raw_page, dict):
                b.warn(f"pages[{index}]", "not a page object; not imported")
                continue
            page = b.new_page(
                self.texts(raw_page.get("title")), str(raw_page.get("name") or f"page{index + 1}")
            )
            if raw_page.get("visibleIf"):
                self._logic(page, raw_page["visibleIf"], f"pages[{index}]")
            self._elements(
                raw_page.get("elements") or raw_page.get("questions") or [], page, f"pages[{index}]"
            )
        for key in ("triggers", "calculatedValues", "completedHtmlOnCondition"):
            if survey.get(key):
                b.warn(key, f"{key} are not imported")
        if survey.get("completedHtml"):
            b.warn("completedHtml", "the completion page is not imported; set a thank-you message")
        return b.finish()

    def _elements(self, elements: Any, page: dict[str, Any], where: str, depth: int = 0) -> None:
        if depth > MAX_PANEL_DEPTH:
            self.b.warn(where, f"panels nested more than {MAX_PANEL_DEPTH} deep are not imported")
            return
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            source = f"{where}.elements[{index}]"
            if not isinstance(element, dict):
                self.b.warn(source, "not an element object; not imported")
                continue
            source = f"{source} {element.get('name', '')}".strip()
            if element.get("type") == "panel":
                if element.get("visibleIf"):
                    self.b.warn(source, f"panel visibility {element['visibleIf']!r} is not imported")
                inner = element.get("elements") or element.get("questions") or []
                self._elements(inner, page, source, depth + 1)
                continue
            self._question(element, page, source)

    def _choices(self, raw: Any, source: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        items = raw if isinstance(raw, list) else []
        values = [str(i.get("value", "")) if isinstance(i, dict) else str(i) for i in items]
        ids = choice_ids(values)
        renamed = [f"{v!r}->{i!r}" for v, i in zip(values, ids, strict=True) if v != i]
        if renamed:
            self.b.warn(source, "choice values imported as ids: " + ", ".join(renamed)[:1000])
        choices = []
        for item, value, cid in zip(items, values, ids, strict=True):
            text = self.texts(item.get("text")) if isinstance(item, dict) and item.get("text") else {}
            choices.append({"id": cid, "text": text or {self.b.default_language: value or cid}})
        return choices, dict(zip(values, ids, strict=True))

    def _question(self, e: dict[str, Any], page: dict[str, Any], source: str) -> None:
        b, kind = self.b, e.get("type")
        name = str(e.get("name") or "q")
        if kind in _SKIPPED or kind not in (
            "radiogroup",
            "checkbox",
            "dropdown",
            "tagbox",
            "text",
            "comment",
            "rating",
            "boolean",
            "matrix",
            "ranking",
            "multipletext",
            "imagepicker",
        ):
            b.warn(source, f"element type {kind!r} has no cxloop equivalent; not imported")
            return
        base: dict[str, Any] = {
            "id": b.question_id(name, source),
            "text": self.texts(e.get("title")) or b.lang(name),
        }
        if e.get("description"):
            base["description"] = self.texts(e["description"])
        if e.get("isRequired"):
            base["required"] = True
        keymap: dict[str, str] = {}
        multiple = kind in ("checkbox", "tagbox")
        question: dict[str, Any]
        if kind in ("radiogroup", "checkbox", "dropdown", "tagbox", "imagepicker", "ranking"):
            choices, keymap = self._choices(e.get("choices"), source)
            for flag, cid, label in (("hasOther", "other", "Other"), ("hasNone", "none", "None")):
                if e.get(flag) or e.get(f"show{flag[3:]}Item"):
                    choices.append(
                        {
                            "id": cid if cid not in keymap.values() else f"{cid}_2",
                            "text": {b.default_language: label},
                            **({"other": True} if cid == "other" else {}),
                        }
                    )
            if e.get("choicesByUrl") or e.get("choicesFromQuestion"):
                b.warn(source, "choices loaded from a URL or another question are not imported")
            if not choices or (kind == "ranking" and len(choices) < 2):
                b.warn(source, "no usable choices; not imported")
                return
            types = {
                "radiogroup": "single_choice",
                "imagepicker": "single_choice",
                "dropdown": "dropdown",
                "ranking": "ranking",
            }
            question = {**base, "type": types.get(str(kind), "multiple_choice"), "choices": choices}
            if kind == "imagepicker":
                b.warn(source, "image choices are imported as text choices")
            if e.get("choicesOrder") == "random":
                question["randomize"] = True
        elif kind == "text":
            input_type = e.get("inputType") or "text"
            mapped = _TEXT_INPUTS.get(str(input_type), "text")
            if mapped == "text" and input_type != "text":
                b.warn(source, f"input type {input_type!r} is imported as text")
            question = {**base, "type": mapped}
            if (
                mapped == "number"
                and isinstance(e.get("min"), int | float)
                and isinstance(e.get("max"), int | float)
            ):
                question.update(min=e["min"], max=e["max"])
        elif kind == "comment":
            question = {**base, "type": "text", "size": "long"}
        elif kind == "rating":
            question = self._rating(e, base, source)
        elif kind == "boolean":
            labels = {
                "true": self.texts(e.get("labelTrue")) or {b.default_language: "Yes"},
                "false": self.texts(e.get("labelFalse")) or {b.default_language: "No"},
            }
            keymap = {"true": "yes", "false": "no"}
            question = {
                **base,
                "type": "single_choice",
                "choices": [{"id": "yes", "text": labels["true"]}, {"id": "no", "text": labels["false"]}],
            }
        elif kind == "matrix":
            rows, _ = self._choices(e.get("rows"), source)
            columns, _ = self._choices(e.get("columns"), source)
            if not rows or len(columns) < 2:
                b.warn(source, "a matrix without rows or with fewer than two columns; not imported")
                return
            raw = [c.get("value") if isinstance(c, dict) else c for c in e.get("columns") or []]
            numeric = all(isinstance(v, int) and -100 <= v <= 100 for v in raw) and len(set(raw)) == len(raw)
            if not numeric:
                b.warn(source, "matrix column values are not numbers; imported as 1..n")
            if len(columns) > 11:
                b.warn(source, f"{len(columns) - 11} columns beyond the 11 cxloop allows are not imported")
            scale = [
                {"value": raw[i] if numeric else i + 1, "text": c["text"]} for i, c in enumerate(columns[:11])
            ]
            question = {**base, "type": "matrix", "rows": rows, "scale": scale}
        else:  # multipletext: one text question per item
            b.warn(source, "multiple text items become separate text questions")
            for item in e.get("items") or []:
                if isinstance(item, dict) and item.get("name"):
                    item_id = b.question_id(f"{name}_{item['name']}", source)
                    b.place(
                        {
                            "id": item_id,
                            "type": "text",
                            "text": self.texts(item.get("title")) or b.lang(str(item["name"])),
                        },
                        source,
                    )
            return
        if e.get("visibleIf"):
            self._logic(question, e["visibleIf"], source)
        for key in ("enableIf", "requiredIf", "validators", "defaultValue", "correctAnswer"):
            if e.get(key):
                b.warn(source, f"{key} is not imported")
        b.place(question, source)
        self.mapped[name] = (question["id"], keymap, multiple)

    def _rating(self, e: dict[str, Any], base: dict[str, Any], source: str) -> dict[str, Any]:
        low = e.get("rateMin", 1)
        values = e.get("rateValues")
        high = e.get("rateMax", 5)
        if isinstance(values, list) and values:
            count = len(values)
            self.b.warn(source, "custom rate values are imported as a 1..n rating")
        else:
            count = int(high) - int(low) + 1 if isinstance(low, int) and isinstance(high, int) else 5
        labels: dict[str, Any] = {}
        if e.get("minRateDescription"):
            labels["low_label"] = self.texts(e["minRateDescription"])
        if e.get("maxRateDescription"):
            labels["high_label"] = self.texts(e["maxRateDescription"])
        if low == 0 and high == 10 and not values:
            return {**base, "type": "nps", **labels}
        if not 2 <= count <= 11:
            self.b.warn(source, f"a {count}-point rating is imported as 11 points")
            count = min(max(count, 2), 11)
        if low != 1 and not values:
            self.b.warn(source, f"a rating from {low} is imported as 1..{count}")
        return {**base, "type": "rating", "points": count, **labels}

    def _logic(self, target: dict[str, Any], expression: Any, source: str) -> None:
        def resolve(name: str) -> tuple[str, dict[str, str], bool] | None:
            return self.mapped.get(name)

        condition = parse_expression(str(expression), resolve)
        if condition is None:
            self.b.warn(
                source, f"visibleIf {expression!r} is not expressible as a cxloop condition; not imported"
            )
        else:
            target["display_logic"] = condition


def import_surveyjs(document: Any) -> ImportResult:
    inner = _unwrap(document)
    if isinstance(inner, str):
        import json

        try:
            inner = json.loads(inner)
        except json.JSONDecodeError as exc:
            raise unreadable(f"The embedded SurveyJS JSON is not valid: {exc.msg}.") from exc
    if not looks_like(inner):
        raise unreadable("This is not a SurveyJS survey definition.")
    name = document.get("name") if isinstance(document, dict) else None
    return _SurveyJs(inner, name).run()
