"""The survey and the ~1 KB response the ingest and respondent benchmarks use.

A 10-question bilingual store survey (NPS, CSAT, CES, choices, a rating, a
Chinese comment ...) and one realistic answer sheet for it. Kept apart from
the drivers so that the reference app validates exactly the same body.
"""

from __future__ import annotations

import json
from typing import Any


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


def _choices(*pairs: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"id": cid, "text": _t(zh, en)} for cid, zh, en in pairs]


SURVEY: dict[str, Any] = {
    "title": _t("门店体验调研", "Store experience survey"),
    "languages": ["zh-CN", "en"],
    "default_language": "zh-CN",
    "embedded": [{"name": "order_no"}, {"name": "member_level", "default": "regular"}],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "nps",
                    "type": "nps",
                    "required": True,
                    "text": _t("您向朋友推荐我们门店的可能性有多大？", "How likely are you to recommend us?"),
                },
                {"id": "csat", "type": "csat", "text": _t("您对本次购物满意吗？", "How satisfied were you?")},
                {"id": "ces", "type": "ces", "text": _t("结账是否方便？", "How easy was checkout?")},
                {
                    "id": "visit_reason",
                    "type": "single_choice",
                    "text": _t("您今天来店的主要原因？", "Main reason for your visit?"),
                    "choices": _choices(
                        ("groceries", "日常采购", "Groceries"),
                        ("promotion", "促销活动", "Promotion"),
                        ("pickup", "线上订单自提", "Order pickup"),
                    ),
                },
                {
                    "id": "liked",
                    "type": "multiple_choice",
                    "text": _t("您喜欢哪些方面？", "What did you like?"),
                    "choices": _choices(
                        ("staff", "店员服务", "Staff"),
                        ("fresh", "生鲜品质", "Fresh produce"),
                        ("price", "价格", "Prices"),
                        ("clean", "整洁", "Cleanliness"),
                    ),
                    "max_picks": 3,
                },
            ],
        },
        {
            "id": "p2",
            "questions": [
                {
                    "id": "staff_rating",
                    "type": "rating",
                    "points": 5,
                    "text": _t("请为店员服务打分", "Rate our staff"),
                },
                {
                    "id": "area",
                    "type": "dropdown",
                    "text": _t("您主要在哪个区域购物？", "Which area did you shop in?"),
                    "choices": _choices(
                        ("produce", "果蔬区", "Produce"),
                        ("bakery", "烘焙区", "Bakery"),
                        ("household", "日用品区", "Household"),
                    ),
                },
                {
                    "id": "visits",
                    "type": "number",
                    "integer": True,
                    "min": 0,
                    "max": 100,
                    "text": _t("您每月来店几次？", "Visits per month?"),
                },
                {
                    "id": "comment",
                    "type": "text",
                    "max_length": 2000,
                    "text": _t("还有什么想告诉我们的？", "Anything else?"),
                },
                {
                    "id": "contact_ok",
                    "type": "consent",
                    "text": _t("我们可以就您的反馈联系您吗？", "May we contact you about your feedback?"),
                },
            ],
        },
    ],
}

COMMENT = (
    "今天下午在门店购物，整体体验很好。店员主动帮我找到了需要的商品，生鲜区的蔬菜非常新鲜，"
    "价格也比较合理。不过结账的时候排队时间有点长，自助收银机有两台坏了，希望能尽快维修。"
    "另外停车场的指示牌不太清楚，第一次来的顾客可能会找不到入口。总的来说还是会继续来这里购物，"
    "也会推荐给身边的朋友和家人。"
    "建议周末多安排一些收银员，会员积分兑换也可以更简单一些。谢谢！"
)

RESPONSE: dict[str, Any] = {
    "answers": {
        "nps": 9,
        "csat": 4,
        "ces": 5,
        "visit_reason": "promotion",
        "liked": ["staff", "fresh", "price"],
        "staff_rating": 5,
        "area": "produce",
        "visits": 6,
        "comment": COMMENT,
        "contact_ok": True,
    },
    "unit_code": "S1",
    "channel": "pos",
    "touchpoint": "checkout",
    "language": "zh-CN",
    "submitted_at": "2026-11-30T08:15:00+08:00",
    "contact": {"email": "wang.li@example.com", "external_id": "member-000123456"},
    "embedded": {"order_no": "SO-2026-1130-000981", "member_level": "gold"},
}


def response_body() -> bytes:
    """The body as a client library would send it (UTF-8, not \\u-escaped)."""
    return json.dumps(RESPONSE, ensure_ascii=False).encode()


def batch_body(size: int) -> bytes:
    return json.dumps({"responses": [RESPONSE] * size}, ensure_ascii=False).encode()


def one_page_survey() -> dict[str, Any]:
    """The same ten questions on a single page: the heaviest first page for the respondent bench."""
    questions = [question for page in SURVEY["pages"] for question in page["questions"]]
    return {**SURVEY, "pages": [{"id": "p1", "questions": questions}]}
