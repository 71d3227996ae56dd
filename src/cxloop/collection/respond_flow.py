"""The respondent's path through a survey, and one page's form read into typed answers.

Pure functions of the definition and what is known so far: which page comes
next (skip logic, then display logic), which came before (for the Back
button), which questions a page shows, and what a posted form means
(``"9"`` -> 9 for an NPS question). Faults are returned as stable codes with
parameters; the pages turn them into text in the respondent's language.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxloop.collection.validation import SCORE_RANGES, answered, check_answer
from cxloop.surveys import Facts, SurveyDefinition, evaluate

END = "end"
NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
# Field names in the form: "q.<question>" and "q.<question>.<part>".
PREFIX = "q."


@dataclass(frozen=True)
class Fault:
    """Why an answer was refused: a stable code and the values its message shows."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


def page_index(definition: SurveyDefinition, page_id: str | None) -> int | None:
    for index, page in enumerate(definition.pages):
        if page.id == page_id:
            return index
    return None


def _shown_from(definition: SurveyDefinition, index: int, facts: Facts) -> int | None:
    """The first page at or after ``index`` whose display logic holds."""
    while index < len(definition.pages):
        page = definition.pages[index]
        if page.display_logic is None or evaluate(page.display_logic, facts):
            return index
        index += 1
    return None


def first_page(definition: SurveyDefinition, facts: Facts) -> int | None:
    return _shown_from(definition, 0, facts)


def next_page(definition: SurveyDefinition, current: int, facts: Facts) -> int | None:
    """The page after ``current`` for these answers, or None at the end."""
    page = definition.pages[current]
    target = next((rule.to for rule in page.skip_logic if evaluate(rule.when, facts)), None)
    if target == END:
        return None
    start = current + 1 if target is None else page_index(definition, target)
    return _shown_from(definition, start if start is not None else current + 1, facts)


def path_to(definition: SurveyDefinition, facts: Facts, stop: int | None = None) -> list[int]:
    """The pages a respondent with these answers goes through, up to ``stop``."""
    path: list[int] = []
    index = first_page(definition, facts)
    while index is not None and index not in path:
        path.append(index)
        if index == stop:
            break
        index = next_page(definition, index, facts)
    return path


def previous_page(definition: SurveyDefinition, current: int, facts: Facts) -> int | None:
    path = path_to(definition, facts, stop=current)
    earlier = [index for index in path if index < current]
    return earlier[-1] if earlier else None


def shown_on(definition: SurveyDefinition, index: int, facts: Facts) -> list[Any]:
    """The questions of page ``index`` that their display logic shows."""
    return [
        q
        for q in definition.pages[index].questions
        if q.display_logic is None or evaluate(q.display_logic, facts)
    ]


def choice_order(seed: str, question_id: str, ids: Sequence[str]) -> list[str]:
    """A per-respondent shuffle that is the same on every reload (a keyed sort, no RNG state)."""

    def key(choice_id: str) -> bytes:
        return hashlib.sha256(f"{seed}\n{question_id}\n{choice_id}".encode()).digest()

    return sorted(ids, key=key)


def outcome(definition: SurveyDefinition, answers: Mapping[str, Any]) -> str:
    """promoter (9-10), passive (7-8) or detractor (0-6) by the first answered NPS question."""
    for _, question in definition.questions():
        value = answers.get(question.id)
        if question.type == "nps" and isinstance(value, int) and not isinstance(value, bool):
            return "promoter" if value >= 9 else "passive" if value >= 7 else "detractor"
    return "default"


# --- reading a posted page ------------------------------------------------------------


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name) or []
    return values[-1] if values else None


def _integer(raw: str | None) -> int | str | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    return int(text) if re.fullmatch(r"[+-]?\d{1,6}", text) else text


def _read(question: Any, form: Mapping[str, list[str]]) -> Any:
    """The typed answer to ``question`` in the form (None when unanswered); bad input stays text."""
    name = PREFIX + question.id
    kind = question.type
    if kind in SCORE_RANGES or kind == "rating":
        return _integer(_one(form, name))
    if kind in ("single_choice", "dropdown"):
        picked = _one(form, name)
        if not picked:
            return None
        choice = next((c for c in question.choices if c.id == picked), None)
        other = (_one(form, name + ".other") or "").strip()
        if choice is not None and choice.other and other:
            return {"choice": picked, "other": _one(form, name + ".other")}
        return picked
    if kind == "multiple_choice":
        picks = list(dict.fromkeys(v for v in form.get(name) or [] if v))
        takes_text = {c.id for c in question.choices if c.other}
        answer: list[Any] = []
        for pick in picks:
            # Each choice that takes text has its own box: several "other" choices may be picked.
            written = _one(form, f"{name}.other.{pick}") if pick in takes_text else None
            answer.append({"choice": pick, "other": written} if written and written.strip() else pick)
        return answer or None
    if kind == "ranking":
        ranks: dict[str, int | str | None] = {
            c.id: _integer(_one(form, f"{name}.{c.id}")) for c in question.choices
        }
        given = {k: v for k, v in ranks.items() if v is not None}
        if not given:
            return None
        if len(given) != len(ranks) or len(set(given.values())) != len(given):
            return Fault("ranking")
        if not all(isinstance(v, int) for v in given.values()):
            return Fault("ranking")
        return [choice_id for choice_id, _ in sorted(given.items(), key=lambda item: item[1])]
    if kind == "matrix":
        rows = {row.id: _integer(_one(form, f"{name}.{row.id}")) for row in question.rows}
        given_rows = {k: v for k, v in rows.items() if v is not None}
        return given_rows or None
    if kind == "servqual":
        parts = {p: _integer(_one(form, f"{name}.{p}")) for p in ("expectation", "perception")}
        if all(v is None for v in parts.values()):
            return None
        if any(v is None for v in parts.values()):
            return Fault("servqual_both")
        return parts
    if kind == "number":
        raw = _one(form, name)
        if raw is None or raw.strip() == "":
            return None
        text = raw.strip()
        if NUMBER.match(text) is None:
            return Fault("number")
        number = float(text.replace(",", "."))
        return int(number) if number.is_integer() and "." not in text and "," not in text else number
    if kind == "consent":
        return True if _one(form, name) else None
    raw = _one(form, name)
    if raw is None or raw.strip() == "":
        return None
    # Text is stored as typed (only the browser's CRLF line ends become LF); pages escape it.
    return raw.replace("\r\n", "\n")


def _fault_for(question: Any, value: Any) -> Fault | None:
    problems = check_answer(question, value, "answer")
    if not problems:
        return None
    kind = question.type
    if kind in SCORE_RANGES or kind == "rating":
        return Fault("pick_one")
    if kind in ("single_choice", "dropdown"):
        return Fault("pick_one")
    if kind == "multiple_choice":
        if question.max_picks is not None and len(value) > question.max_picks:
            return Fault("picks_max", {"n": question.max_picks})
        if question.min_picks is not None and len(value) < question.min_picks:
            return Fault("picks_min", {"n": question.min_picks})
        return Fault("pick_one")
    if kind == "ranking":
        return Fault("ranking")
    if kind in ("matrix", "servqual"):
        return Fault("pick_one")
    if kind == "text":
        if len(value) > question.max_length:
            return Fault("text_too_long", {"n": question.max_length})
        return Fault("pattern")
    if kind == "number":
        if question.integer and isinstance(value, float) and not value.is_integer():
            return Fault("whole_number")
        if question.min is not None and question.max is not None:
            return Fault("number_between", {"min": f"{question.min:g}", "max": f"{question.max:g}"})
        if question.min is not None:
            return Fault("number_min", {"min": f"{question.min:g}"})
        if question.max is not None:
            return Fault("number_max", {"max": f"{question.max:g}"})
        return Fault("number")
    if kind == "date":
        low = question.min.isoformat() if question.min else None
        high = question.max.isoformat() if question.max else None
        if not isinstance(value, str) or len(value) != 10 or (not low and not high):
            return Fault("date")
        return Fault("date_between", {"min": low or "…", "max": high or "…"})
    if kind == "email":
        return Fault("email")
    if kind == "phone":
        return Fault("phone")
    return Fault("pick_one")


@dataclass(frozen=True)
class PageAnswers:
    """What one posted page says: typed answers, the raw values to show again, and faults."""

    answers: dict[str, Any]
    faults: dict[str, Fault]
    raw: dict[str, list[str]]


def read_page(questions: Sequence[Any], form: Mapping[str, list[str]]) -> PageAnswers:
    answers: dict[str, Any] = {}
    faults: dict[str, Fault] = {}
    raw = {k: v for k, v in form.items() if k.startswith(PREFIX)}
    for question in questions:
        value = _read(question, form)
        if isinstance(value, Fault):
            faults[question.id] = value
            continue
        if not answered(value):
            if question.required:
                faults[question.id] = Fault("required")
            continue
        if question.type == "matrix" and question.required and len(value) < len(question.rows):
            faults[question.id] = Fault("matrix_rows")
            continue
        fault = _fault_for(question, value)
        if fault is not None:
            faults[question.id] = fault
        else:
            answers[question.id] = value
    return PageAnswers(answers, faults, raw)


def form_values(question: Any, value: Any) -> dict[str, list[str]]:
    """A stored answer as the form fields that show it (to fill a page again)."""
    name = PREFIX + question.id
    if value is None:
        return {}
    kind = question.type
    if kind == "multiple_choice" and isinstance(value, list):
        fields = {name: [str(v.get("choice") if isinstance(v, dict) else v) for v in value]}
        for item in value:
            if isinstance(item, dict):
                fields[f"{name}.other.{item.get('choice')}"] = [str(item.get("other"))]
        return fields
    if kind in ("single_choice", "dropdown") and isinstance(value, dict):
        return {name: [str(value.get("choice"))], name + ".other": [str(value.get("other"))]}
    if kind == "ranking" and isinstance(value, list):
        return {f"{name}.{choice_id}": [str(rank)] for rank, choice_id in enumerate(value, start=1)}
    if kind in ("matrix", "servqual") and isinstance(value, dict):
        return {f"{name}.{part}": [str(point)] for part, point in value.items()}
    if kind == "consent":
        return {name: ["yes"]} if value is True else {}
    return {name: [str(value)]}
