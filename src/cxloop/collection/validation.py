"""Answers checked against a published survey definition.

Every fault is reported with its path (``answers.nps``), not just the first.
Required questions are required only where the respondent would have seen
them: the page and the question shown by their display logic, and the page
not skipped by an earlier skip rule.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from cxloop.kit.errors import FieldError
from cxloop.surveys import Facts, SurveyDefinition, evaluate

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,24}$")
MAX_EMBEDDED_TEXT = 500
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


_UNANSWERED: tuple[Any, ...] = ("", [], {})


def answered(value: Any) -> bool:
    return value is not None and value not in _UNANSWERED


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def valid_email(value: str) -> bool:
    return len(value) <= 254 and EMAIL.match(value) is not None


def valid_phone(value: str) -> bool:
    return PHONE.match(value) is not None and sum(c.isdigit() for c in value) >= 5


def _no_nul(value: str) -> str | None:
    return "may not contain NUL characters" if "\x00" in value else None


def _score(value: Any, low: int, high: int) -> str | None:
    if not _is_int(value):
        return f"must be a whole number from {low} to {high}"
    if not low <= value <= high:
        return f"must be from {low} to {high}"
    return None


T = TypeVar("T")
# Derived lookups per parsed object (definitions, and questions inside them).
# Bounded like the cache of parsed published versions (surveys.published).
_CACHE_SIZES = {"shape": 512, "choices": 8192}
_by_identity: dict[str, OrderedDict[int, tuple[Any, Any]]] = {kind: OrderedDict() for kind in _CACHE_SIZES}


def _derived(kind: str, source: Any, build: Callable[[Any], T]) -> T:
    """``build(source)``, kept per object: parsed definitions are immutable and
    cached per published version, so what is derived from them is too. The
    source is kept alongside so that a recycled ``id()`` never matches.
    Measured on bench/workload.py's response: 38-44 µs to check it with
    them kept, 47-52 µs when they were rebuilt for every response."""
    cache = _by_identity[kind]
    hit = cache.get(id(source))
    if hit is not None and hit[0] is source:
        value: T = hit[1]
        return value
    value = build(source)
    cache[id(source)] = (source, value)
    while len(cache) > _CACHE_SIZES[kind]:
        cache.popitem(last=False)
    return value


@dataclass(frozen=True)
class _Shape:
    questions: dict[str, Any]
    page_index: dict[str, int]
    embedded_names: frozenset[str]
    embedded_defaults: dict[str, Any]

    # Precompiled per definition (bench/ingest.py's batch): one check per question
    # with its path built once, the required questions, and, for a survey without
    # any display or skip logic, the questions every respondent is shown.
    checks: tuple[tuple[str, Callable[[Any], list[FieldError]]], ...]
    required: tuple[tuple[str, str], ...]
    always_shown: frozenset[str] | None


def _checker(question: Any, path: str) -> Callable[[Any], list[FieldError]]:
    """One question's check. The common case of each type (a valid answer) is
    decided by a few comparisons on what is bound here; anything else goes to
    ``check_answer``, which builds the messages. Measured on bench/workload.py's
    answers on a busy machine: 21.6 -> 11.5 µs per response."""
    kind = question.type
    if kind in SCORE_RANGES or kind == "rating":
        low, high = (1, question.points) if kind == "rating" else SCORE_RANGES[kind]

        def score(value: Any) -> list[FieldError]:
            if value.__class__ is int and low <= value <= high:
                return []
            return check_answer(question, value, path)

        return score
    if kind in ("single_choice", "dropdown"):
        ids = frozenset(choice.id for choice in question.choices)

        def single(value: Any) -> list[FieldError]:
            if value.__class__ is str and value in ids:
                return []
            return check_answer(question, value, path)

        return single
    if kind == "multiple_choice":
        ids = frozenset(choice.id for choice in question.choices)
        fewest = question.min_picks or 0
        most = question.max_picks if question.max_picks is not None else len(ids)

        def multiple(value: Any) -> list[FieldError]:
            if (
                value.__class__ is list
                and fewest <= len(value) <= most
                and all(pick.__class__ is str and pick in ids for pick in value)
                and len(set(value)) == len(value)
            ):
                return []
            return check_answer(question, value, path)

        return multiple
    if kind == "text" and question.pattern is None:
        longest = question.max_length

        def text(value: Any) -> list[FieldError]:
            if value.__class__ is str and len(value) <= longest and "\x00" not in value:
                return []
            return check_answer(question, value, path)

        return text
    if kind == "number":
        low_number = -math.inf if question.min is None else question.min
        high_number = math.inf if question.max is None else question.max

        def number(value: Any) -> list[FieldError]:
            if value.__class__ is int and low_number <= value <= high_number:
                return []
            return check_answer(question, value, path)

        return number
    if kind == "consent":
        return lambda value: [] if value.__class__ is bool else check_answer(question, value, path)
    return lambda value: check_answer(question, value, path)


def _without_logic(definition: SurveyDefinition) -> bool:
    return all(
        page.display_logic is None
        and not page.skip_logic
        and all(q.display_logic is None for q in page.questions)
        for page in definition.pages
    )


def _build_shape(definition: SurveyDefinition) -> _Shape:
    questions = {q.id: q for _, q in definition.questions()}
    return _Shape(
        questions=questions,
        page_index={page.id: index for index, page in enumerate(definition.pages)},
        embedded_names=frozenset(field.name for field in definition.embedded),
        embedded_defaults={f.name: f.default for f in definition.embedded if f.default is not None},
        checks=tuple((qid, _checker(q, f"answers.{qid}")) for qid, q in questions.items()),
        required=tuple((qid, f"answers.{qid}") for qid, q in questions.items() if q.required),
        always_shown=frozenset(questions) if _without_logic(definition) else None,
    )


def _shape(definition: SurveyDefinition) -> _Shape:
    return _derived("shape", definition, _build_shape)


def _choice_ids(question: Any) -> dict[str, Any]:
    return _derived("choices", question, lambda q: {choice.id: choice for choice in q.choices})


def _single_other(choices: dict[str, Any], value: dict[str, Any], path: str) -> list[FieldError]:
    # An "other" choice carries the respondent's text: {"choice": "other", "other": "..."}.
    picked, other = value.get("choice"), value.get("other")
    if set(value) - {"choice", "other"} or not isinstance(picked, str) or not isinstance(other, str):
        return [FieldError(path, 'must be a choice id, or {"choice": id, "other": text}')]
    if picked not in choices or not choices[picked].other:
        return [FieldError(f"{path}.choice", f"{picked!r} is not a choice that takes text")]
    problem = _no_nul(other) or ("is longer than 2000 characters" if len(other) > 2000 else None)
    return [FieldError(f"{path}.other", problem)] if problem else []


def _single(question: Any, value: Any, path: str) -> list[FieldError]:
    choices = _choice_ids(question)
    if isinstance(value, dict):
        return _single_other(choices, value, path)
    if not isinstance(value, str):
        return [FieldError(path, "must be a choice id")]
    if value not in choices:
        return [FieldError(path, f"{value!r} is not one of the choices")]
    return []


def _multiple_pick(choices: dict[str, Any], item: Any, path: str) -> tuple[str | None, list[FieldError]]:
    """The choice id of one pick: an id, or {"choice": id, "other": text} where the choice takes text."""
    if isinstance(item, str):
        if item not in choices:
            return None, [FieldError(path, f"{item!r} is not one of the choices")]
        return item, []
    if not isinstance(item, dict):
        return None, [FieldError(path, 'must be a choice id, or {"choice": id, "other": text}')]
    errors = _single_other(choices, item, path)
    picked = item.get("choice")
    return (picked if isinstance(picked, str) and not errors else None), errors


def _multiple(question: Any, value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, list):
        return [FieldError(path, "must be a list of choice ids")]
    choices = _choice_ids(question)
    errors: list[FieldError] = []
    picked: list[str] = []
    for index, item in enumerate(value):
        choice_id, problems = _multiple_pick(choices, item, f"{path}[{index}]")
        errors += problems
        if choice_id is not None:
            picked.append(choice_id)
    if len(set(picked)) != len(picked):
        errors.append(FieldError(path, "picks the same choice twice"))
    if question.min_picks is not None and len(value) < question.min_picks:
        errors.append(FieldError(path, f"needs at least {question.min_picks} picks"))
    if question.max_picks is not None and len(value) > question.max_picks:
        errors.append(FieldError(path, f"allows at most {question.max_picks} picks"))
    return errors


def _ranking(question: Any, value: Any, path: str) -> list[FieldError]:
    ids = list(_choice_ids(question))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [FieldError(path, "must be a list of choice ids, best first")]
    if sorted(value) != sorted(ids):
        return [FieldError(path, f"must rank every choice exactly once: {', '.join(ids)}")]
    return []


def _matrix(question: Any, value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, dict):
        return [FieldError(path, "must be an object of row id to scale value")]
    rows = {row.id for row in question.rows}
    scale = [point.value for point in question.scale]
    errors: list[FieldError] = []
    for row, point in value.items():
        if row not in rows:
            errors.append(FieldError(f"{path}.{row}", f"{row!r} is not a row of this matrix"))
        elif not _is_int(point) or point not in scale:
            errors.append(FieldError(f"{path}.{row}", f"must be one of {scale}"))
    return errors


def _servqual(question: Any, value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, dict) or set(value) != {"expectation", "perception"}:
        return [FieldError(path, 'must be {"expectation": n, "perception": n}')]
    errors: list[FieldError] = []
    for part in ("expectation", "perception"):
        problem = _score(value[part], 1, question.points)
        if problem:
            errors.append(FieldError(f"{path}.{part}", problem))
    return errors


def _text(question: Any, value: Any, path: str) -> list[FieldError]:
    if not isinstance(value, str):
        return [FieldError(path, "must be text")]
    if len(value) > question.max_length:
        return [FieldError(path, f"is longer than {question.max_length} characters")]
    problem = _no_nul(value)
    if problem:
        return [FieldError(path, problem)]
    if question.pattern is not None and re.fullmatch(question.pattern, value) is None:
        return [FieldError(path, "does not match the expected format")]
    return []


def _number(question: Any, value: Any, path: str) -> list[FieldError]:
    # An int is finite (and may be too large for math.isfinite, which would raise).
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        return [FieldError(path, "must be a number")]
    if question.integer and not (_is_int(value) or float(value).is_integer()):
        return [FieldError(path, "must be a whole number")]
    if question.min is not None and value < question.min:
        return [FieldError(path, f"must be at least {question.min:g}")]
    if question.max is not None and value > question.max:
        return [FieldError(path, f"must be at most {question.max:g}")]
    return []


def _date(question: Any, value: Any, path: str) -> list[FieldError]:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return [FieldError(path, "must be a date like 2026-01-31")]
    if question.min is not None and day < question.min:
        return [FieldError(path, f"must be on or after {question.min.isoformat()}")]
    if question.max is not None and day > question.max:
        return [FieldError(path, f"must be on or before {question.max.isoformat()}")]
    return []


def check_answer(question: Any, value: Any, path: str) -> list[FieldError]:
    kind = question.type
    if kind in SCORE_RANGES:
        problem = _score(value, *SCORE_RANGES[kind])
        return [FieldError(path, problem)] if problem else []
    if kind == "rating":
        problem = _score(value, 1, question.points)
        return [FieldError(path, problem)] if problem else []
    if kind in ("single_choice", "dropdown"):
        return _single(question, value, path)
    if kind == "multiple_choice":
        return _multiple(question, value, path)
    if kind == "ranking":
        return _ranking(question, value, path)
    if kind == "matrix":
        return _matrix(question, value, path)
    if kind == "servqual":
        return _servqual(question, value, path)
    if kind == "text":
        return _text(question, value, path)
    if kind == "number":
        return _number(question, value, path)
    if kind == "date":
        return _date(question, value, path)
    if kind == "email":
        ok = isinstance(value, str) and valid_email(value)
        return [] if ok else [FieldError(path, "must be an email address")]
    if kind == "phone":
        ok = isinstance(value, str) and valid_phone(value)
        return [] if ok else [FieldError(path, "must be a phone number")]
    # consent
    return [] if isinstance(value, bool) else [FieldError(path, "must be true or false")]


def shown_questions(definition: SurveyDefinition, facts: Facts) -> set[str]:
    """Ids of the questions a respondent with these answers would have been shown."""
    shown: set[str] = set()
    index_of = _shape(definition).page_index
    index = 0
    while index < len(definition.pages):
        page = definition.pages[index]
        if page.display_logic is not None and not evaluate(page.display_logic, facts):
            index += 1
            continue
        shown.update(
            q.id for q in page.questions if q.display_logic is None or evaluate(q.display_logic, facts)
        )
        target = next((rule.to for rule in page.skip_logic if evaluate(rule.when, facts)), None)
        if target is None:
            index += 1
        elif target == "end":
            break
        else:
            index = index_of[target]
    return shown


def check_embedded(definition: SurveyDefinition, embedded: Mapping[str, Any]) -> list[FieldError]:
    declared = _shape(definition).embedded_names
    errors: list[FieldError] = []
    for name, value in embedded.items():
        path = f"embedded.{name}"
        if name not in declared:
            errors.append(FieldError(path, f"{name!r} is not an embedded field of this survey"))
        elif isinstance(value, str):
            problem = _no_nul(value) or (
                f"is longer than {MAX_EMBEDDED_TEXT} characters" if len(value) > MAX_EMBEDDED_TEXT else None
            )
            if problem:
                errors.append(FieldError(path, problem))
        elif isinstance(value, float) and not math.isfinite(value):
            # JSON has no NaN or Infinity: PostgreSQL refuses them and SQLite would store invalid JSON.
            errors.append(FieldError(path, "must be a finite number"))
        elif not (_is_number(value) or isinstance(value, bool) or value is None):
            errors.append(FieldError(path, "must be text, a number or true/false"))
    return errors


def with_defaults(definition: SurveyDefinition, embedded: Mapping[str, Any]) -> dict[str, Any]:
    filled = dict(_shape(definition).embedded_defaults)
    filled.update(embedded)
    return filled


def check_answers(
    definition: SurveyDefinition,
    answers: Mapping[str, Any],
    embedded: Mapping[str, Any],
    contact: Mapping[str, Any],
) -> list[FieldError]:
    """Every fault in these answers (and embedded fields), in question order."""
    errors: list[FieldError] = []
    shape = _shape(definition)
    questions = shape.questions
    for question_id in answers:
        if question_id not in questions:
            errors.append(
                FieldError(f"answers.{question_id}", f"{question_id!r} is not a question of this survey")
            )
    for question_id, check in shape.checks:
        value = answers.get(question_id)
        # answered(value), inline: this loop runs for every question of every response.
        if value is not None and value not in _UNANSWERED:
            problems = check(value)
            if problems:
                errors += problems
    if embedded:
        errors += check_embedded(definition, embedded)
    if errors or not shape.required:
        # Logic over wrong answers would report misleading "required" faults.
        return errors
    shown: frozenset[str] | set[str]
    if shape.always_shown is not None:
        shown = shape.always_shown
    else:
        facts = Facts(answers=answers, embedded=with_defaults(definition, embedded), contact=contact)
        shown = shown_questions(definition, facts)
    for question_id, path in shape.required:
        if question_id in shown and not answered(answers.get(question_id)):
            errors.append(FieldError(path, "is required"))
    return errors
