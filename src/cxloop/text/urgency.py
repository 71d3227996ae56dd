"""Urgency flags: what should reach a person today, whatever the score says.

``regulator`` (12315, 消协, FTC...), ``media`` (曝光, 记者, going viral),
``legal`` (律师, 起诉, lawyer, sue), ``churn`` (再也不, 销户, cancel my
account), ``safety`` (食物中毒, 过敏, injured, fire). Plain phrase lists so
that a CX lead can read why a flag was raised.
"""

from __future__ import annotations

import re

FLAGS: dict[str, tuple[str, ...]] = {
    "regulator": (
        "12315",
        "12345",
        "消协",
        "消费者协会",
        "工商局",
        "市场监管",
        "监管局",
        "食药监",
        "举报",
        "投诉到",
        "银保监",
        "金融监管",
        "证监会",
        "人民银行",
        "工信部",
        "通管局",
        "12321",
        "12331",
        "12365",
        "12328",
        "12358",
        "消委会",
        "消保委",
        "消保官",
        "消基会",
        "黑猫投诉",
        "信访",
        "cfpb",
        "fcc",
        "trading standards",
        "ofcom",
        "ofgem",
        "report you to",
        "regulator",
        "ftc",
        "better business bureau",
        "bbb",
        "attorney general",
        "department of transportation",
        "consumer protection",
        "ombudsman",
        "file a complaint with",
    ),
    "media": (
        "曝光",
        "媒体",
        "记者",
        "电视台",
        "央视",
        "315晚会",
        "发微博",
        "发到网上",
        "发抖音",
        "发朋友圈",
        "网上曝",
        "发小红书",
        "小红书上",
        "上热搜",
        "发帖",
        "post this on",
        "posting this on",
        "contact the news",
        "contacting the news",
        "call the news",
        "calling the news",
        "going to the news",
        "local news",
        "the media",
        "journalist",
        "reporter",
        "the press",
        "go viral",
        "going viral",
        "news station",
        "tv station",
    ),
    "legal": (
        "律师",
        "起诉",
        "法院",
        "诉讼",
        "告你们",
        "打官司",
        "法律途径",
        "维权",
        "律师函",
        "仲裁",
        "报警",
        "退一赔三",
        "假一赔十",
        "arbitration",
        "class action",
        "my solicitor",
        "police",
        "lawyer",
        "attorney",
        "sue",
        "suing",
        "lawsuit",
        "legal action",
        "small claims",
        "in court",
    ),
    "churn": (
        "再也不",
        "不会再来",
        "不会再买",
        "不会再点",
        "销户",
        "注销",
        "退卡",
        "退会员",
        "换一家",
        "换别家",
        "取消会员",
        "卸载",
        "拉黑",
        "携号转网",
        "不再续费",
        "never flying",
        "never ordering",
        "never using",
        "never shopping",
        "never coming back",
        "won't be back",
        "will not be back",
        "won't be coming back",
        "done with you",
        "close my account",
        "taking my business",
        "最后一次",
        "cancel my account",
        "cancel my subscription",
        "cancel my membership",
        "closing my account",
        "switching to",
        "switch to another",
        "never again",
        "never fly",
        "never use",
        "never order",
        "last time i",
        "lost a customer",
        "take my business elsewhere",
        "uninstall",
    ),
    "safety": (
        "食物中毒",
        "中毒",
        "拉肚子",
        "腹泻",
        "过敏",
        "受伤",
        "烫伤",
        "割伤",
        "着火",
        "起火",
        "爆炸",
        "漏电",
        "触电",
        "安全隐患",
        "玻璃渣",
        "玻璃碴",
        "冒烟",
        "自燃",
        "短路",
        "漏气",
        "煤气",
        "刹车失灵",
        "呕吐",
        "吃坏肚子",
        "住院",
        "送医",
        "医院",
        "food poisoning",
        "poisoned",
        "injured",
        "injury",
        "allergic reaction",
        "caught fire",
        "on fire",
        "explode",
        "exploded",
        "electric shock",
        "unsafe",
        "dangerous",
        "choking",
        "hospital",
        "ambulance",
        "got sick",
        "threw up",
        "vomit",
        "vomiting",
        "glass in",
        "gas leak",
        "carbon monoxide",
        "smoke came",
        "slipped and fell",
    ),
}

_LATIN = re.compile(r"[a-z]")


def _compile() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for flag, phrases in FLAGS.items():
        alternatives = []
        for phrase in sorted(phrases, key=len, reverse=True):
            escaped = re.escape(phrase)
            # Latin phrases match whole words only ("bbb" not inside "abbbey").
            alternatives.append(rf"(?<![a-z]){escaped}(?![a-z])" if _LATIN.search(phrase) else escaped)
        out.append((flag, re.compile("|".join(alternatives))))
    return out


_PATTERNS = _compile()


def flags(text: str) -> list[str]:
    """The flags ``text`` raises, in a fixed order; ``text`` is the cleaned comment."""
    lowered = text.lower()
    return [flag for flag, pattern in _PATTERNS if pattern.search(lowered)]


def evidence(text: str) -> dict[str, list[str]]:
    lowered = text.lower()
    return {
        flag: sorted(set(pattern.findall(lowered))) for flag, pattern in _PATTERNS if pattern.search(lowered)
    }
