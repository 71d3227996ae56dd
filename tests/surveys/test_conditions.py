"""The condition evaluator's truth table, and the piping renderer."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from cxloop.surveys import Condition, Facts, evaluate, render

conditions: TypeAdapter[Condition] = TypeAdapter(Condition)

FACTS = Facts(
    answers={
        "nps": 6,
        "channel": "app",
        "picks": ["a", "c"],
        "reason": "Queue TOO long",
        "day": "2026-03-01",
    },
    embedded={"store": "SH001"},
    contact={"first_name": "Li", "email": ""},
)


def check(data: dict[str, Any], facts: Facts = FACTS) -> bool:
    return evaluate(conditions.validate_python(data), facts)


def answer(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"source": "answers", "field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("nps", "eq", 6, True),
        ("nps", "eq", 7, False),
        ("nps", "ne", 7, True),
        ("nps", "ne", 6, False),
        ("nps", "lt", 7, True),
        ("nps", "lt", 6, False),
        ("nps", "le", 6, True),
        ("nps", "le", 5, False),
        ("nps", "gt", 5, True),
        ("nps", "gt", 6, False),
        ("nps", "ge", 6, True),
        ("nps", "ge", 7, False),
        ("nps", "gt", "5", False),  # a number never orders against text
        ("day", "lt", "2026-04-01", True),
        ("channel", "in", ["app", "web"], True),
        ("channel", "in", ["store"], False),
        ("channel", "not_in", ["store"], True),
        ("channel", "not_in", ["app"], False),
        ("picks", "in", ["c", "z"], True),
        ("picks", "not_in", ["b"], True),
        ("picks", "contains", "a", True),
        ("picks", "contains", "b", False),
        ("reason", "contains", "too long", True),
        ("reason", "contains", "short", False),
        ("nps", "contains", 6, False),
        ("nps", "answered", None, True),
        ("nps", "not_answered", None, False),
        ("missing", "answered", None, False),
        ("missing", "not_answered", None, True),
        ("missing", "ne", 1, False),  # an unanswered field satisfies no comparison
        ("missing", "not_in", [1], False),
        ("missing", "lt", 1, False),
    ],
)
def test_comparisons(field: str, op: str, value: Any, expected: bool) -> None:
    assert check(answer(field, op, value)) is expected


def test_sources_and_empty_values() -> None:
    assert check({"source": "embedded", "field": "store", "op": "eq", "value": "SH001"}) is True
    assert check({"source": "contact", "field": "first_name", "op": "eq", "value": "Li"}) is True
    assert check({"source": "contact", "field": "email", "op": "answered"}) is False
    assert check({"source": "contact", "field": "email", "op": "not_answered"}) is True


@pytest.mark.parametrize(
    ("left", "right", "all_", "any_"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (False, True, False, True),
        (False, False, False, False),
    ],
)
def test_all_any_not_truth_table(left: bool, right: bool, all_: bool, any_: bool) -> None:
    def fact(value: bool) -> dict[str, Any]:
        return answer("nps", "eq", 6 if value else 0)

    assert check({"all": [fact(left), fact(right)]}) is all_
    assert check({"any": [fact(left), fact(right)]}) is any_
    assert check({"not": {"all": [fact(left), fact(right)]}}) is (not all_)
    assert check({"not": {"not": fact(left)}}) is left


def test_render_substitutes_values_and_never_evaluates() -> None:
    facts = Facts(
        answers={
            "nps": 9,
            "channel": "app",
            "picks": ["a", "c"],
            "note": "<script>alert(1)</script>",
            "ok": True,
        },
        embedded={"store_name": "静安店"},
        contact={"first_name": "Li"},
    )
    labels = {"channel": {"app": "App 应用"}, "picks": {"a": "Staff", "c": "Price"}}
    assert render("{{contact.first_name}}, you gave {{ answers.nps }}", facts) == "Li, you gave 9"
    assert render("{{answers.channel}} / {{answers.picks}}", facts, labels) == "App 应用 / Staff, Price"
    assert render("{{embedded.store_name}}{{embedded.none}}!", facts) == "静安店!"
    # The renderer escapes nothing (the page does) and evaluates nothing.
    assert render("{{answers.note}}", facts) == "<script>alert(1)</script>"
    assert render("{{answers.nps * 2}} {{__import__('os')}} {{answers.ok}}", facts) == "  ✓"
    assert render("no placeholders {single}", facts) == "no placeholders {single}"


OTHER_FACTS = Facts(
    answers={
        "via": {"choice": "other", "other": "朋友推荐"},
        "liked": ["staff", {"choice": "other", "other": "Free parking"}],
    }
)


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("via", "eq", "other", True),
        ("via", "in", ["store", "other"], True),
        ("via", "ne", "other", False),
        ("liked", "contains", "other", True),
        ("liked", "contains", "staff", True),
        ("liked", "in", ["other"], True),
        ("liked", "not_in", ["other", "staff"], False),
        ("liked", "contains", "clean", False),
    ],
)
def test_a_choice_answered_with_text_compares_as_its_choice(
    field: str, op: str, value: Any, expected: bool
) -> None:
    assert check(answer(field, op, value), OTHER_FACTS) is expected


def test_piping_shows_what_was_written_for_an_other_choice() -> None:
    labels = {"liked": {"staff": "Friendly staff", "other": "Other"}, "via": {"other": "其他"}}
    text = "{{answers.via}} / {{answers.liked}}"
    assert render(text, OTHER_FACTS, labels) == "朋友推荐 / Friendly staff, Free parking"
