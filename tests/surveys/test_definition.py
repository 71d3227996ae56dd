"""The definition document: every question type, and exact error paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cxloop.kit.errors import ValidationFailed
from cxloop.surveys import TEMPLATE_IDS, SurveyDefinition, parse_definition, text_in
from cxloop.surveys.service import template_definition
from tests.surveys.support import BASE, definition, t

EVERY_TYPE: list[dict[str, Any]] = [
    {"id": "q_nps", "type": "nps", "text": t("a"), "low_label": t("低"), "high_label": t("高")},
    {"id": "q_csat", "type": "csat", "text": t("a")},
    {"id": "q_ces", "type": "ces", "text": t("a")},
    {
        "id": "q_rating",
        "type": "rating",
        "text": t("a"),
        "points": 10,
        "low_label": t("差"),
        "high_label": t("好"),
    },
    {
        "id": "q_single",
        "type": "single_choice",
        "text": t("a"),
        "randomize": True,
        "choices": [{"id": "a", "text": t("A")}, {"id": "other", "text": t("其他"), "other": True}],
    },
    {
        "id": "q_multi",
        "type": "multiple_choice",
        "text": t("a"),
        "min_picks": 1,
        "max_picks": 2,
        "choices": [{"id": "a", "text": t("A")}, {"id": "b", "text": t("B")}],
    },
    {"id": "q_drop", "type": "dropdown", "text": t("a"), "choices": [{"id": "a", "text": t("A")}]},
    {
        "id": "q_matrix",
        "type": "matrix",
        "text": t("a"),
        "rows": [{"id": "r1", "text": t("行")}],
        "scale": [{"value": 1, "text": t("差")}, {"value": 2, "text": t("好")}],
    },
    {
        "id": "q_rank",
        "type": "ranking",
        "text": t("a"),
        "choices": [{"id": "a", "text": t("A")}, {"id": "b", "text": t("B")}],
    },
    {"id": "q_text", "type": "text", "text": t("a"), "pattern": "^[0-9]{6}$", "max_length": 6},
    {"id": "q_number", "type": "number", "text": t("a"), "min": 0, "max": 100, "integer": True},
    {"id": "q_date", "type": "date", "text": t("a"), "min": "2026-01-01"},
    {"id": "q_email", "type": "email", "text": t("a")},
    {"id": "q_phone", "type": "phone", "text": t("a")},
    {"id": "q_consent", "type": "consent", "text": t("a"), "required": True},
    {"id": "q_servqual", "type": "servqual", "text": t("a"), "dimension": "empathy", "points": 7},
]


def errors_of(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    return [(e.path, e.message) for e in caught.value.errors]


def test_every_question_type_is_accepted_and_round_trips() -> None:
    document = definition(
        pages=[{"id": "p1", "questions": EVERY_TYPE}],
        theme={"logo_url": "/static/logo.png", "color": "#12AB34"},
        redirect_url="https://example.com/thanks",
        thank_you=[{"outcome": "promoter", "message": t("谢谢")}, {"outcome": "default", "message": t("谢")}],
    )
    parsed = parse_definition(document)
    types = [q.type for _, q in parsed.questions()]
    assert types == [q["type"] for q in EVERY_TYPE]
    again = parse_definition(parsed.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again == parsed


def test_the_base_document_is_valid() -> None:
    parsed = parse_definition(copy.deepcopy(BASE))
    assert isinstance(parsed, SurveyDefinition)
    assert text_in(parsed.title, "en", "zh-CN") == "Store survey"
    assert text_in({"zh-CN": "只有中文"}, "en", "zh-CN") == "只有中文"


@pytest.mark.parametrize(
    ("question", "path", "message"),
    [
        (
            {"type": "number", "min": "many"},
            "min",
            "Input should be a valid number, unable to parse string as a number",
        ),
        ({"type": "number", "min": 5, "max": 1}, "", "min may not exceed max"),
        ({"type": "rating", "points": 12}, "points", "Input should be less than or equal to 11"),
        (
            {"type": "text", "pattern": "(["},
            "pattern",
            "not a valid regular expression: unterminated character set at position 1",
        ),
        (
            {"type": "servqual", "dimension": "speed"},
            "dimension",
            "Input should be 'tangibles', 'reliability', 'responsiveness', 'assurance' or 'empathy'",
        ),
        ({"type": "nps", "colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_shape_errors_carry_the_document_path(question: dict[str, Any], path: str, message: str) -> None:
    document = definition()
    document["pages"][0]["questions"].append({"id": "extra", "text": t("x"), **question})
    where = "definition.pages[0].questions[2]" + (f".{path}" if path else "")
    assert errors_of(document) == [(where, message)]


def test_an_unknown_question_type_is_named() -> None:
    document = definition()
    document["pages"][0]["questions"][0]["type"] = "slider"
    [(path, message)] = errors_of(document)
    assert path == "definition.pages[0].questions[0]"
    assert message.startswith("Input tag 'slider' found using 'type' does not match any of the expected tags")


def test_cross_field_errors_carry_exact_paths() -> None:
    document = definition(languages=["zh-CN", "en", "zh-CN"])
    document["pages"][1]["id"] = "p1"
    document["pages"][1]["questions"][0]["id"] = "channel"
    document["pages"][0]["questions"][1]["choices"][1]["id"] = "store"
    document["pages"][0]["questions"][1]["text"] = {"en": "Channel"}
    document["title"]["fr"] = "Enquête"
    assert errors_of(document) == [
        ("definition.languages[2]", "duplicate language 'zh-CN'"),
        ("definition.title.fr", "language 'fr' is not in languages"),
        ("definition.pages[0].questions[1].text", "needs text in the default language 'zh-CN'"),
        ("definition.pages[0].questions[1].choices[1].id", "duplicate id 'store'"),
        ("definition.pages[1].id", "duplicate or reserved page id 'p1'"),
        ("definition.pages[1].questions[0].id", "duplicate question id 'channel'"),
    ]


def test_default_language_must_be_listed() -> None:
    assert errors_of(definition(default_language="ja")) == [
        ("definition.default_language", "must be one of languages")
    ]


def test_logic_must_refer_to_earlier_questions_and_declared_fields() -> None:
    document = definition()
    document["pages"][0]["display_logic"] = {"source": "answers", "field": "why", "op": "answered"}
    document["pages"][1]["display_logic"] = {
        "any": [
            {"source": "embedded", "field": "region", "op": "eq", "value": "east"},
            {"not": {"source": "contact", "field": "shoe_size", "op": "gt", "value": 40}},
            {"source": "answers", "field": "nps", "op": "in", "value": 3},
            {"source": "answers", "field": "ghost", "op": "answered", "value": 1},
        ]
    }
    document["pages"][0]["skip_logic"] = [
        {"when": {"source": "answers", "field": "nps", "op": "ge", "value": 9}, "to": "end"},
        {"when": {"source": "answers", "field": "nps", "op": "ge", "value": 7}, "to": "p1"},
        {"when": {"source": "answers", "field": "nps", "op": "ge", "value": 5}, "to": "p9"},
    ]
    logic = "definition.pages[1].display_logic"
    assert errors_of(document) == [
        ("definition.pages[0].display_logic.field", "question 'why' is not answered before this"),
        ("definition.pages[0].skip_logic[1].to", "may only skip forward"),
        ("definition.pages[0].skip_logic[2].to", "no page 'p9'"),
        (f"{logic}.any[0].field", "no embedded field 'region'"),
        (f"{logic}.any[1].not.field", "no contact attribute 'shoe_size'"),
        (f"{logic}.any[2].value", "in needs a non-empty list"),
        (f"{logic}.any[3].field", "no question 'ghost'"),
        (f"{logic}.any[3].value", "answered takes no value"),
    ]


def test_a_malformed_condition_is_refused_with_its_path() -> None:
    document = definition()
    document["pages"][1]["display_logic"] = {
        "all": [{"source": "answers", "field": "nps", "op": "≈", "value": 1}]
    }
    [(path, message)] = errors_of(document)
    assert path == "definition.pages[1].display_logic.all[0].op"
    assert message.startswith("Input should be 'eq', 'ne'")


def test_piping_must_name_declared_things_answered_earlier() -> None:
    document = definition(title=t("{{embedded.store_name}} 调研", "{{answers.nps}} survey"))
    document["pages"][0]["questions"][0]["text"] = t(
        "{{contact.first_name}}，推荐吗？", "{{ contact.nickname }}?"
    )
    document["pages"][1]["questions"][0]["text"] = t("{{answers.why}}", "{{embedded.city}} {{import os}}")
    assert errors_of(document) == [
        ("definition.title.en", "{{answers.nps}} is not answered on an earlier page"),
        ("definition.pages[0].questions[0].text.en", "{{contact.nickname}} is not a contact attribute"),
        ("definition.pages[1].questions[0].text.zh-CN", "{{answers.why}} is not answered on an earlier page"),
        ("definition.pages[1].questions[0].text.en", "{{embedded.city}} is not a declared embedded field"),
        (
            "definition.pages[1].questions[0].text.en",
            "{{import os}} is not a placeholder like {{answers.q1}}",
        ),
    ]


def test_theme_redirect_and_thank_you_are_checked() -> None:
    document = definition(
        theme={"logo_url": "https://cdn.example.com/logo.png", "color": "red"},
        redirect_url="javascript:alert(1)",
    )
    assert errors_of(document) == [
        ("definition.theme.logo_url", "must be a local path starting with / (no other hosts)"),
        ("definition.theme.color", "String should match pattern '^#[0-9A-Fa-f]{6}$'"),
        ("definition.redirect_url", "must be an http or https URL"),
    ]
    no_nps = definition(
        pages=[{"id": "p1", "questions": [{"id": "c", "type": "csat", "text": t("c")}]}],
        thank_you=[
            {"outcome": "detractor", "message": t("抱歉")},
            {"outcome": "detractor", "message": t("抱歉")},
        ],
    )
    assert errors_of(no_nps) == [
        ("definition.thank_you", "outcome messages need an nps question"),
        ("definition.thank_you[1].outcome", "duplicate outcome 'detractor'"),
    ]


def test_multiple_choice_picks_must_fit_the_choices() -> None:
    document = definition()
    question = document["pages"][0]["questions"][1]
    question.update(type="multiple_choice", max_picks=3)
    assert errors_of(document) == [
        ("definition.pages[0].questions[1].max_picks", "may not exceed the number of choices")
    ]
    question.update(min_picks=2, max_picks=1)
    assert errors_of(document) == [("definition.pages[0].questions[1]", "min_picks may not exceed max_picks")]


def test_not_an_object_is_refused() -> None:
    assert errors_of(["not", "a", "survey"]) == [
        ("definition", "Input should be a valid dictionary or instance of SurveyDefinition")
    ]


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_is_valid_in_both_languages(template_id: str) -> None:
    for language in ("zh-CN", "en"):
        parsed = parse_definition(template_definition(template_id, language))
        assert parsed.default_language == language
        assert parsed.languages == [language, "en" if language == "zh-CN" else "zh-CN"]
        for _, question in parsed.questions():
            assert set(question.text) == {"zh-CN", "en"}


def test_an_empty_choice_text_is_reported_at_its_text_field() -> None:
    document = definition()
    document["pages"][0]["questions"][1]["choices"][0]["text"] = {}
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    assert [e.path for e in caught.value.errors] == ["definition.pages[0].questions[1].choices[0].text"]


def test_a_text_question_keeps_its_field_names_in_paths() -> None:
    document = definition()
    document["pages"][1]["questions"][0]["max_length"] = 0
    with pytest.raises(ValidationFailed) as caught:
        parse_definition(document)
    assert [e.path for e in caught.value.errors] == ["definition.pages[1].questions[0].max_length"]
