"""Personal data in comments: found, checked, masked.

Chinese mobile and landline numbers, resident ID numbers (GB 11643 check
digit), Taiwan and Hong Kong phones and ID numbers (their check digits), North
American and any +country-code phone numbers, bank cards (Luhn), emails, and
names after an explicit cue ("我叫", "姓名：", "my name is"). Digit runs that
fail their checksum stay, so order numbers and amounts are not mangled; so does
a run the comment itself labels as an order, tracking or reference number (a
tenth of all order numbers pass Luhn by chance). Each find is replaced by a
bracketed label, so what users see and export says what was there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cxloop.text.normalize import to_simplified

LABELS = {
    "email": "[EMAIL]",
    "id_card": "[ID]",
    "bank_card": "[CARD]",
    "mobile": "[PHONE]",
    "landline": "[PHONE]",
    "name": "[NAME]",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
# Also written in groups of 6-8-4 ("110105 19491231 002X"), with one kind of separator.
_ID = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5}([ -]?)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\2\d{3}[0-9Xx])"
    r"(?![0-9A-Za-z])"
)
# Digits glued to Latin letters (SF1234567890123, JD...) are codes, not cards.
_CARD = re.compile(r"(?<![\dA-Za-z-])((?:\d[ -]?){12,18}\d)(?![\dA-Za-z-])")
_MOBILE = re.compile(
    r"(?<!\d)(?:(?:[(（]\s?(?:\+|00)?86\s?[)）]|(?:\+|00)?86)[ -]?)?"
    r"(1[3-9]\d(?:[ -]?\d{4}){2}|1[3-9]\d\.\d{4}\.\d{4})(?!\d)"
)
_MOBILE_DIGITS = re.compile(r"^(?:0086|86)?1[3-9]\d{9}$")
# Area code (0571, (010), +86 10, +86 (0)21), a 7- or 8-digit local number that may be
# written in two groups, and an extension (转 123, ext. 12, -123).
_LANDLINE = re.compile(
    r"(?<!\d)(?:(?:\+|00)86[ -]?(?:\(0\)\s?)?[1-9]\d{1,2}|[(（]0\d{2,3}[)）]|0\d{2,3})"
    r"[ -]?[2-9]\d{2,3}[ -]?\d{4}"
    r"(?:(?:[ -]?(?:转|ext\.?)\s?|-)\d{1,5})?(?!\d)"
)
# Taiwan and Hong Kong (zh-TW comments): Taiwan mobiles 09xx-xxx-xxx or +886 9xx, landlines
# (02)2345-6789 or +886 2 2345 6789, Hong Kong numbers only with +852 (8 bare digits are too common).
_PHONE_TW_HK = re.compile(
    r"(?<!\d)(?:(?P<mobile>(?:(?:\+|00)886[ -]?9\d{2}|09\d{2})[ -]?\d{3}[ -]?\d{3})"
    r"|(?P<landline>(?:[(（]0\d{1,2}[)）]\s?|(?:\+|00)886[ -]?[2-8]\d?[ -])\d{3,4}[ -]?\d{4})"
    r"|(?P<hk>(?:\+|00)852[ -]?[2-9]\d{3}[ -]?\d{4}))(?!\d)"
)
# North American numbers as people write them (415-555-0134, (415) 555-0134, +1 415 555 0134),
# not toll-free lines (800, 888...), which are businesses; and any number written with a
# leading + and a country code (E.164: 8 to 15 digits).
_PHONE_NANP = re.compile(
    r"(?<![\d+])(?:\+?1[ .-]?)?(?:\((?P<area>[2-9]\d{2})\)\s?|(?P<bare>[2-9]\d{2})[ .-])"
    r"[2-9]\d{2}[ .-]\d{4}(?!\d)"
)
_TOLL_FREE = frozenset({"800", "833", "844", "855", "866", "877", "888"})
_FOREIGN_PREFIX = re.compile(r"\+(?!86)\d{1,3}[ .-]?\(?$")
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)")
# Taiwan national ID (A123456789) and Hong Kong identity card (A123456(7)), both with a check digit.
_ID_TW = re.compile(r"(?<![0-9A-Za-z])([A-Z][1289]\d{8})(?![0-9A-Za-z])")
_ID_HK = re.compile(
    r"(?<![0-9A-Za-z])((?P<letters>[A-Z]{1,2})(?P<digits>\d{6})(?:\((?P<check>[0-9A])\)|(?P<bare>[0-9A])))"
    r"(?![0-9A-Za-z])"
)
_TW_LETTER = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))


_NAME_ZH = re.compile(
    r"(?:(我叫|本人叫)|姓名[:：]?|(?:联系人|联络人|收货人)[:：]?)\s?([\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,6}|[\u4e00-\u9fff]{2,4}?)(?=[，,。.\s!！?？]|$|的|电话|手机)"
)
# After "我叫" (also "I ordered": 我叫了外卖, 我叫的套餐) a name must start with a
# surname; after "姓名：" or "收货人：" whatever follows is the name.
_TWO_CHARACTER_SURNAMES = "欧阳司马上官诸葛东方皇甫令狐慕容尉迟长孙宇文司徒夏侯公孙轩辕端木独孤南宫西门呼延"
_SURNAMES_TWO = frozenset(
    _TWO_CHARACTER_SURNAMES[i : i + 2] for i in range(0, len(_TWO_CHARACTER_SURNAMES), 2)
)
# Common surnames, less those that more often begin a dish or a thing ordered (米, 麻, 牛, 汤...).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向常温康施文"
    "樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲"
    "翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫"
    "柏宗瞿桂佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查苑迟邝官封谈匡鞠惠荆冀郁胥南班储栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝郜阚权帅屠朴盖练廉禹祖漆丰卿狄晋容敬扈晁芮阙浦戈伏鹿薄邸雍辜阿乌裘亓修邰赫杭"
    "逯隆茹诸慕亢嵇湛宾戎勾茅於呼揭尉冶斯束檀展阴昝智幸奉植衡富尧闭"
)


def _looks_like_zh_name(name: str) -> bool:
    if "·" in name:
        return True
    if name[:2] in _SURNAMES_TWO:
        return len(name) <= 4
    return name[0] in _SURNAMES and len(name) <= 3


_NAME_EN = re.compile(
    r"(?:[Mm]y name is|[Mm]y name's|[Tt]his is|[Ii] am|I'm)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)
# Words that follow "I am" and are not names (besides -ing, -ed and -ly words:
# "I'm Having problems", "I am Extremely upset").
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
        "But",
        "And",
        "Also",
        "Now",
        "Your",
        "Our",
        "Late",
        "Back",
        "Done",
        "Ready",
        "Sure",
        "Group",
        # Loyalty tiers: "I am Gold", "I'm Platinum".
        "Member",
        "Gold",
        "Silver",
        "Platinum",
        "Diamond",
    }
)

# "订单号：", "tracking number #" right before a digit run say what it is.
_REFERENCE_CUE = re.compile(
    r"(?:订单号|订单编号|单号|编号|流水号|交易号|发票号|票号|工单号|取件码|"
    r"(?<![A-Za-z])(?:order|tracking|ref|reference|booking|confirmation|invoice|ticket|case))"
    r"(?:\s*(?:no\.?|number|num|id|code|#))?[\s:：#是为=-]{0,3}$",
    re.IGNORECASE,
)


def _foreign_prefix(text: str, start: int) -> bool:
    return _FOREIGN_PREFIX.search(text, max(0, start - 8), start) is not None


def _labelled_reference(text: str, start: int) -> bool:
    return _REFERENCE_CUE.search(text[max(0, start - 24) : start]) is not None


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


def tw_id_valid(number: str) -> bool:
    if len(number) != 10 or number[0] not in _TW_LETTER or not number[1:].isdigit():
        return False
    code = _TW_LETTER[number[0]]
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(number[1:9], range(8, 0, -1), strict=True))
    return (total + int(number[9])) % 10 == 0


def hk_id_valid(letters: str, digits: str, check: str) -> bool:
    if not 1 <= len(letters) <= 2 or len(digits) != 6 or not letters.isupper():
        return False
    values = [ord(c) - ord("A") + 10 for c in letters]
    if len(values) == 1:
        values.insert(0, 36)  # a single letter counts as if a space preceded it
    total = (
        values[0] * 9 + values[1] * 8 + sum(int(d) * w for d, w in zip(digits, range(7, 1, -1), strict=True))
    )
    return (total + (10 if check == "A" else int(check))) % 11 == 0


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
    """Non-overlapping finds, earliest first; stronger kinds (checked by a checksum) win overlaps.

    Cues and surnames are read in the Simplified fold of ``text`` (訂單號, 陳), which keeps
    every character in its place, so the finds' positions are the text's own."""
    folded = text if text.isascii() else to_simplified(text)
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
            if id_card_valid(m.group(1).replace(m.group(2), "") if m.group(2) else m.group(1)):
                add("id_card", m.start(1), m.end(1))
        # One letter-and-digits code in ten passes these checks by chance: the label decides.
        for m in _ID_TW.finditer(text):
            if tw_id_valid(m.group(1)) and not _labelled_reference(folded, m.start(1)):
                add("id_card", m.start(1), m.end(1))
        for m in _ID_HK.finditer(text):
            check = m.group("check") or m.group("bare")
            if hk_id_valid(m.group("letters"), m.group("digits"), check) and not _labelled_reference(
                folded, m.start(1)
            ):
                add("id_card", m.start(1), m.end(1))
        for m in _CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group(1))
            # A mobile number written with its country code is a phone, not a card.
            if _MOBILE_DIGITS.match(digits) or text[max(0, m.start(1) - 1) : m.start(1)] == "+":
                continue
            if 13 <= len(digits) <= 19 and luhn_valid(digits) and not _labelled_reference(folded, m.start(1)):
                add("bank_card", m.start(1), m.end(1))
        # "+49 151 23456789" is a German number, though "151 2345 6789" looks like a Chinese mobile.
        for m in _MOBILE.finditer(text):
            if not _labelled_reference(folded, m.start()) and not _foreign_prefix(text, m.start()):
                add("mobile", m.start(), m.end())
        for m in _LANDLINE.finditer(text):
            if not _labelled_reference(folded, m.start()) and not _foreign_prefix(text, m.start()):
                add("landline", m.start(), m.end())
        for m in _PHONE_TW_HK.finditer(text):
            if not _labelled_reference(folded, m.start()):
                add("landline" if m.group("landline") else "mobile", m.start(), m.end())
        for m in _PHONE_NANP.finditer(text):
            if (m.group("area") or m.group("bare")) not in _TOLL_FREE and not _labelled_reference(
                folded, m.start()
            ):
                add("mobile", m.start(), m.end())
        for m in _PHONE_INTERNATIONAL.finditer(text):
            if 8 <= sum(ch.isdigit() for ch in m.group(0)) <= 15:
                add("mobile", m.start(), m.end())
    for m in _NAME_ZH.finditer(folded):
        if m.group(1) is None or _looks_like_zh_name(m.group(2)):
            add("name", m.start(2), m.end(2))
    if not digits_free or any(c.isupper() for c in text):
        for m in _NAME_EN.finditer(text):
            first = m.group(1).split()[0]
            if first in _NOT_NAMES:
                continue
            if m.group(0)[:2].lower() != "my" and first.endswith(("ing", "ed", "ly")):
                continue
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
