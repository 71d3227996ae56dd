"""Personal data in comments: checksums decide, clean text stays untouched."""

from __future__ import annotations

from cxloop.text.pii import id_card_valid, luhn_valid, mask

ID = "11010519491231002X"


def luhn_complete(prefix: str) -> str:
    """``prefix`` with the check digit that makes it pass Luhn."""
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


CARD = luhn_complete("622202020011223344")
SPACED = " ".join(CARD[i : i + 4] for i in range(0, len(CARD), 4))


def test_checksums() -> None:
    assert id_card_valid(ID) is True
    assert id_card_valid("110105194912310021") is False
    assert luhn_valid("4111111111111111") is True
    assert luhn_valid("4111111111111112") is False


def test_each_kind_is_masked() -> None:
    text, finds = mask(
        f"我叫王小明，电话13812345678，座机010-62345678，身份证{ID}，卡号{SPACED}，邮箱a.b@example.com"
    )
    assert text == "我叫[NAME]，电话[PHONE]，座机[PHONE]，身份证[ID]，卡号[CARD]，邮箱[EMAIL]"
    assert [f.kind for f in finds] == ["name", "mobile", "landline", "id_card", "bank_card", "email"]
    assert mask(f"card {CARD} thanks")[0] == "card [CARD] thanks"


def test_numbers_that_fail_their_checks_stay() -> None:
    for clean in (
        "订单号 20261201123456789 还没到",
        "花了128元",
        "110105194912310021 不是身份证",
        "等了45分钟",
        "4111111111111112",
    ):
        assert mask(clean)[0] == clean


def test_mobile_with_country_code_and_spaces() -> None:
    assert mask("call +86 138 1234 5678 please")[0] == "call [PHONE] please"
    assert mask("My name is John Smith and I am angry")[0] == "My name is [NAME] and I am angry"
