"""Compiled response rules: a definition turned once into plain Python closures.

Evaluating 100 rules on every stored response must stay cheap (the target is at
most 20% on top of ingesting it), so nothing is parsed or looked up per response:
each rule becomes a filter tuple and a predicate over a ``Subject``; word lists
become one compiled regular expression; contact attributes and text facts are
loaded only when some rule of the tenant needs them, and once per response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cxloop.alerts.rules import AllOf, AnyOf, Comparison, Condition, NotOf, ResponseRule, Words, words_of


@dataclass
class Subject:
    """What a rule may look at for one response."""

    response: Mapping[str, Any]
    answers: Mapping[str, Any]
    embedded: Mapping[str, Any]
    unit_path: str | None = None
    contact: Mapping[str, Any] = field(default_factory=dict)
    text: Mapping[str, Any] = field(default_factory=dict)
    _folded: dict[str, str] = field(default_factory=dict)

    def folded(self, question: str) -> str:
        cached = self._folded.get(question)
        if cached is None:
            value = self.answers.get(question)
            cached = self._folded[question] = _text_of(value).casefold()
        return cached

    def all_text(self) -> str:
        return "\n".join(self.folded(q) for q, v in self.answers.items() if _has_text(v))


def _has_text(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value) and not value.isdigit()
    if isinstance(value, dict):
        return any(isinstance(v, str) for v in value.values())
    return False


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # an "other" choice keeps its text next to the pick
        return " ".join(v for v in value.values() if isinstance(v, str))
    if isinstance(value, list):
        return " ".join(v for v in value if isinstance(v, str))
    return ""


Predicate = Callable[[Subject], bool]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "answered":
        return actual is not None and actual not in ("", [], {})
    if op == "not_answered":
        return actual is None or actual in ("", [], {})
    if actual is None:
        return op in ("ne", "not_in")
    if op == "eq":
        return bool(actual == expected) if not isinstance(actual, list) else expected in actual
    if op == "ne":
        return bool(actual != expected) if not isinstance(actual, list) else expected not in actual
    if op == "in":
        if isinstance(actual, list):
            return any(a in expected for a in actual)
        return actual in expected
    if op == "not_in":
        if isinstance(actual, list):
            return not any(a in expected for a in actual)
        return actual not in expected
    if op == "contains":
        if isinstance(actual, list):
            return expected in actual
        return isinstance(actual, str) and str(expected).casefold() in actual.casefold()
    if not (
        (_number(actual) and _number(expected)) or (isinstance(actual, str) and isinstance(expected, str))
    ):
        return False
    if op == "lt":
        return bool(actual < expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)


def _comparison(cond: Comparison) -> Predicate:
    op, expected, name = cond.op, cond.value, cond.field
    if cond.source == "answers":
        return lambda s: _compare(s.answers.get(name), op, expected)
    if cond.source == "embedded":
        return lambda s: _compare(s.embedded.get(name), op, expected)
    if cond.source == "contact":
        return lambda s: _compare(s.contact.get(name), op, expected)
    if cond.source == "response":
        return lambda s: _compare(s.response.get(name), op, expected)
    return lambda s: _compare(s.text.get(name), op, expected)


def word_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    # ASCII words match whole words ("sue" is not in "issue"); CJK terms have no
    # word boundaries, so they match anywhere.
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        escaped = re.escape(term)
        parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if term.isascii() else escaped)
    return re.compile("|".join(parts))


def _words(cond: Words) -> Predicate:
    pattern = word_pattern(words_of(cond.words))
    questions = tuple(cond.words.questions)
    if questions:
        return lambda s: any(pattern.search(s.folded(q)) for q in questions)
    return lambda s: pattern.search(s.all_text()) is not None


def compile_condition(cond: Condition) -> Predicate:
    if isinstance(cond, Comparison):
        return _comparison(cond)
    if isinstance(cond, Words):
        return _words(cond)
    if isinstance(cond, AllOf):
        parts = tuple(compile_condition(c) for c in cond.all)
        return lambda s: all(p(s) for p in parts)
    if isinstance(cond, AnyOf):
        parts = tuple(compile_condition(c) for c in cond.any)
        return lambda s: any(p(s) for p in parts)
    assert isinstance(cond, NotOf)
    inner = compile_condition(cond.not_)
    return lambda s: not inner(s)


def _sources(cond: Condition) -> set[str]:
    if isinstance(cond, Comparison):
        return {cond.source}
    if isinstance(cond, Words):
        return {"answers"}
    if isinstance(cond, AllOf | AnyOf):
        found: set[str] = set()
        for child in cond.all if isinstance(cond, AllOf) else cond.any:
            found |= _sources(child)
        return found
    return _sources(cond.not_)


def referenced_questions(cond: Condition) -> list[str]:
    """Questions a rule looks at, shown first in its messages."""
    if isinstance(cond, Comparison):
        return [cond.field] if cond.source == "answers" else []
    if isinstance(cond, Words):
        return list(cond.words.questions)
    if isinstance(cond, AllOf | AnyOf):
        out: list[str] = []
        for child in cond.all if isinstance(cond, AllOf) else cond.any:
            out += [q for q in referenced_questions(child) if q not in out]
        return out
    return referenced_questions(cond.not_)


@dataclass(frozen=True)
class CompiledRule:
    id: str
    version: int
    name: str
    rule: ResponseRule
    surveys: frozenset[str]
    touchpoints: frozenset[str]
    channels: frozenset[str]
    # Materialised paths of the unit filters (resolved from codes when compiled).
    unit_paths: tuple[str, ...]
    # A unit filter naming only unknown units matches nothing (never everything).
    units_unknown: bool
    predicate: Predicate
    needs_contact: bool
    needs_text: bool
    questions: tuple[str, ...]

    def passes_filters(self, s: Subject) -> bool:
        r = s.response
        if self.surveys and r.get("survey_id") not in self.surveys:
            return False
        if self.touchpoints and r.get("touchpoint") not in self.touchpoints:
            return False
        if self.channels and r.get("channel") not in self.channels:
            return False
        if self.units_unknown:
            return False
        if self.unit_paths:
            path = s.unit_path
            return path is not None and any(path.startswith(p) for p in self.unit_paths)
        return True

    def matches(self, s: Subject) -> bool:
        return self.passes_filters(s) and self.predicate(s)


def compile_rule(
    rule_id: str, version: int, name: str, rule: ResponseRule, unit_paths: dict[str, str]
) -> CompiledRule:
    sources = _sources(rule.condition)
    paths = tuple(unit_paths[c] for c in rule.filters.units if c in unit_paths)
    return CompiledRule(
        id=rule_id,
        version=version,
        name=name,
        rule=rule,
        surveys=frozenset(rule.filters.surveys),
        touchpoints=frozenset(rule.filters.touchpoints),
        channels=frozenset(rule.filters.channels),
        unit_paths=paths,
        units_unknown=bool(rule.filters.units) and not paths,
        predicate=compile_condition(rule.condition),
        needs_contact="contact" in sources,
        needs_text="text" in sources,
        questions=tuple(referenced_questions(rule.condition)),
    )
