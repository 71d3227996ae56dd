"""Personal data in comments: found, checked, masked.

Chinese mobile and landline numbers, resident ID numbers (GB 11643 check
digit), bank cards (Luhn), emails, and names after an explicit cue ("我叫",
"姓名：", "my name is"). Digit runs that fail their checksum stay, so order
numbers and amounts are not mangled. Each find is replaced by a bracketed
label, so what users see and export says what was there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LABELS = {
    "email": "[EMAIL]",
    "id_card": "[ID]",
    "bank_card": "[CARD]",
    "mobile": "[PHONE]",
    "landline": "[PHONE]",
    "name": "[NAME]",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_ID = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx])(?![0-9A-Za-z])"
)
_CARD = re.compile(r"(?<![\d-])((?:\d[ -]?){12,18}\d)(?![\d-])")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?(1[3-9]\d(?:[ -]?\d{4}){2})(?!\d)")
_MOBILE_DIGITS = re.compile(r"^(?:0086|86)?1[3-9]\d{9}$")
_LANDLINE = re.compile(
    r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[ -]?[2-9]\d{6,7}(?:[ -]?(?:转|ext\.?)\s?\d{1,5})?(?!\d)"
)
_NAME_ZH = re.compile(
    r"(?:我叫|本人叫|姓名[:：]?|联系人[:：]?|收货人[:：]?)\s?([\u4e00-\u9fff·]{2,4}?)(?=[，,。.\s!！?？]|$|的|电话|手机)"
)
_NAME_EN = re.compile(
    r"(?:[Mm]y name is|[Mm]y name's|[Tt]his is|[Ii] am|I'm)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)
# Words that follow "I am" and are not names.
_NOT_NAMES = frozenset(
    {
        "Very",
        "So",
        "Not",
        "Really",
        "Still",
        "Just",
        "The",
        "A",
        "An",
        "Happy",
        "Sorry",
        "Disappointed",
        "Glad",
        "Extremely",
        "Here",
        "On",
        "In",
        "At",
        "Going",
        "Never",
        "Always",
    }
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Find:
    kind: str
    start: int
    end: int


def id_card_valid(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def find(text: str) -> list[Find]:
    """Non-overlapping finds, earliest first; stronger kinds (checked by a checksum) win overlaps."""
    found: list[Find] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Find(kind, start, end))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            add("email", m.start(), m.end())
    if not any(ch.isdigit() for ch in text):
        digits_free = True
    else:
        digits_free = False
        for m in _ID.finditer(text):
            if id_card_valid(m.group(1)):
                add("id_card", m.start(1), m.end(1))
        for m in _CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group(1))
            # A mobile number written with its country code is a phone, not a card.
            if _MOBILE_DIGITS.match(digits) or text[max(0, m.start(1) - 1) : m.start(1)] == "+":
                continue
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                add("bank_card", m.start(1), m.end(1))
        for m in _MOBILE.finditer(text):
            add("mobile", m.start(), m.end())
        for m in _LANDLINE.finditer(text):
            add("landline", m.start(), m.end())
    for m in _NAME_ZH.finditer(text):
        add("name", m.start(1), m.end(1))
    if not digits_free or any(c.isupper() for c in text):
        for m in _NAME_EN.finditer(text):
            first = m.group(1).split()[0]
            if first not in _NOT_NAMES:
                add("name", m.start(1), m.end(1))
    return sorted(found, key=lambda f: f.start)


def mask(text: str, finds: list[Find] | None = None) -> tuple[str, list[Find]]:
    """``text`` with every find replaced by its label, and the finds."""
    finds = find(text) if finds is None else finds
    if not finds:
        return text, finds
    parts: list[str] = []
    last = 0
    for f in finds:
        parts.append(text[last : f.start])
        parts.append(LABELS[f.kind])
        last = f.end
    parts.append(text[last:])
    return "".join(parts), finds
