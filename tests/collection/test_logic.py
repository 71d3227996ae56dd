"""Which questions a respondent would have seen, and so which are required."""

from __future__ import annotations

from typing import Any

from cxloop.collection.validation import check_answers, shown_questions
from cxloop.surveys import Facts, parse_definition
from tests.collection.support import t

SKIPPING: dict[str, Any] = {
    "title": t("跳转"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "tier", "default": "gold"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "text": t("推荐"), "required": True},
                {
                    "id": "via",
                    "type": "single_choice",
                    "text": t("渠道"),
                    "choices": [
                        {"id": "app", "text": t("app")},
                        {"id": "etc", "text": t("etc"), "other": True},
                    ],
                },
            ],
            "skip_logic": [
                {"when": {"source": "answers", "field": "nps", "op": "ge", "value": 9}, "to": "p3"}
            ],
        },
        {"id": "p2", "questions": [{"id": "why", "type": "text", "text": t("原因"), "required": True}]},
        {
            "id": "p3",
            "questions": [
                {
                    "id": "vip",
                    "type": "text",
                    "text": t("贵宾"),
                    "required": True,
                    "display_logic": {"source": "embedded", "field": "tier", "op": "eq", "value": "gold"},
                }
            ],
        },
    ],
}


def test_skip_logic_and_embedded_defaults_decide_what_is_required() -> None:
    definition = parse_definition(SKIPPING)
    assert shown_questions(definition, Facts(answers={"nps": 10}, embedded={"tier": "gold"})) == {
        "nps",
        "via",
        "vip",
    }
    assert shown_questions(definition, Facts(answers={"nps": 3})) == {"nps", "via", "why"}
    assert [e.path for e in check_answers(definition, {"nps": 10}, {}, {})] == ["answers.vip"]
    assert [e.path for e in check_answers(definition, {"nps": 10}, {"tier": "basic"}, {})] == []
    assert [e.path for e in check_answers(definition, {"nps": 2, "vip": "x"}, {"tier": "basic"}, {})] == [
        "answers.why"
    ]


def test_other_choice_takes_text_only_where_declared() -> None:
    definition = parse_definition(SKIPPING)
    ok = {"nps": 10, "vip": "x", "via": {"choice": "etc", "other": "微信"}}
    assert check_answers(definition, ok, {}, {}) == []
    wrong = {"nps": 10, "vip": "x", "via": {"choice": "app", "other": "微信"}}
    assert [(e.path, e.message) for e in check_answers(definition, wrong, {}, {})] == [
        ("answers.via.choice", "'app' is not a choice that takes text")
    ]
    shape = {"nps": 10, "vip": "x", "via": {"choice": "etc"}}
    assert [e.path for e in check_answers(definition, shape, {}, {})] == ["answers.via"]
