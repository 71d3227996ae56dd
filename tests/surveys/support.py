"""A small valid definition that tests change one field at a time."""

from __future__ import annotations

import copy
from typing import Any


def t(zh: str, en: str | None = None) -> dict[str, str]:
    return {"zh-CN": zh, "en": en or zh}


BASE: dict[str, Any] = {
    "title": t("门店调研", "Store survey"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "store_name"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "text": t("推荐意愿", "Recommend?"), "required": True},
                {
                    "id": "channel",
                    "type": "single_choice",
                    "text": t("渠道", "Channel"),
                    "choices": [{"id": "store", "text": t("门店", "Store")}, {"id": "app", "text": t("App")}],
                },
            ],
        },
        {
            "id": "p2",
            "display_logic": {"source": "answers", "field": "nps", "op": "le", "value": 6},
            "questions": [
                {
                    "id": "why",
                    "type": "text",
                    "size": "long",
                    "text": t("为什么给 {{answers.nps}} 分？", "Why?"),
                }
            ],
        },
    ],
}


def definition(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document.update(changes)
    return document
