"""Structured conditions (display and skip logic) and their evaluator.

Conditions are data, never code: a tree of ``all``/``any``/``not`` over
comparisons ``{source, field, op, value}``. The evaluator is a pure function
of the condition and what is known about the respondent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

Source = Literal["answers", "embedded", "contact"]
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "answered", "not_answered"]

VALUELESS_OPS = frozenset({"answered", "not_answered"})
LIST_OPS = frozenset({"in", "not_in"})
ORDER_OPS = frozenset({"lt", "le", "gt", "ge"})

# Prefix of the union tags; error paths drop them (they are not part of the document).
TAG_PREFIX = "cond:"


class _Strict(BaseModel):
    # JSON has no NaN or Infinity, and PostgreSQL's jsonb refuses to store them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Scalar = str | int | float | bool


class Comparison(_Strict):
    source: Source
    field: str = Field(min_length=1, max_length=64)
    op: Op
    value: Scalar | list[Scalar] | None = None


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1, max_length=50)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1, max_length=50)


class NotOf(_Strict):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True, serialize_by_alias=True
    )

    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {AllOf: "all", AnyOf: "any", NotOf: "not"}
        return TAG_PREFIX + kinds.get(type(value), "comparison")
    if isinstance(value, Mapping):
        for key in ("all", "any", "not"):
            if key in value:
                return TAG_PREFIX + key
    return TAG_PREFIX + "comparison"


Condition = Annotated[
    Annotated[Comparison, Tag(TAG_PREFIX + "comparison")]
    | Annotated[AllOf, Tag(TAG_PREFIX + "all")]
    | Annotated[AnyOf, Tag(TAG_PREFIX + "any")]
    | Annotated[NotOf, Tag(TAG_PREFIX + "not")],
    Discriminator(_condition_kind),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def comparisons(condition: Condition) -> list[tuple[Comparison, tuple[str | int, ...]]]:
    """Every comparison in the tree, with its path relative to the condition."""
    if isinstance(condition, Comparison):
        return [(condition, ())]
    if isinstance(condition, AllOf | AnyOf):
        key = "all" if isinstance(condition, AllOf) else "any"
        items = condition.all if isinstance(condition, AllOf) else condition.any
        found: list[tuple[Comparison, tuple[str | int, ...]]] = []
        for index, child in enumerate(items):
            found += [(c, (key, index, *path)) for c, path in comparisons(child)]
        return found
    return [(c, ("not", *path)) for c, path in comparisons(condition.not_)]


@dataclass(frozen=True)
class Facts:
    """What a condition may look at: answers so far, embedded fields, the contact."""

    answers: Mapping[str, Any] = field(default_factory=dict)
    embedded: Mapping[str, Any] = field(default_factory=dict)
    contact: Mapping[str, Any] = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _answered(value: Any) -> bool:
    return value is not None and value not in ("", [], {})


def _ordered(actual: Any, op: str, expected: Any) -> bool:
    if _is_number(actual) and _is_number(expected):
        pass
    elif isinstance(actual, str) and isinstance(expected, str):
        pass  # ISO dates compare correctly as text
    else:
        return False
    if op == "lt":
        return bool(actual < expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)


def _picked(value: Any) -> Any:
    """A choice answered with text ({"choice": "other", "other": "..."}) compares as its choice id."""
    if isinstance(value, Mapping) and "choice" in value:
        return value["choice"]
    if isinstance(value, list):
        return [_picked(item) for item in value]
    return value


def _compare(comparison: Comparison, facts: Facts) -> bool:
    values = {"answers": facts.answers, "embedded": facts.embedded, "contact": facts.contact}[
        comparison.source
    ]
    actual = values.get(comparison.field)
    if comparison.source == "answers":
        actual = _picked(actual)
    op, expected = comparison.op, comparison.value
    if op == "answered":
        return _answered(actual)
    if op == "not_answered":
        return not _answered(actual)
    if not _answered(actual):
        # An unanswered field satisfies no comparison (only not_answered).
        return False
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op in ORDER_OPS:
        return _ordered(actual, op, expected)
    if op in LIST_OPS:
        options = expected if isinstance(expected, list) else [expected]
        picked = actual if isinstance(actual, list) else [actual]
        hit = any(p in options for p in picked)
        return hit if op == "in" else not hit
    # contains: a pick among several, or a substring of text
    if isinstance(actual, list):
        return expected in actual
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    return False


def evaluate(condition: Condition, facts: Facts) -> bool:
    if isinstance(condition, Comparison):
        return _compare(condition, facts)
    if isinstance(condition, AllOf):
        return all(evaluate(child, facts) for child in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(child, facts) for child in condition.any)
    return not evaluate(condition.not_, facts)
