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


def test_a_number_the_comment_labels_as_an_order_or_tracking_number_stays() -> None:
    # CARD passes Luhn, as a tenth of all order numbers do by chance.
    for clean in (
        f"订单号：{CARD} 还没到",
        f"快递单号为 {CARD}",
        f"运单号是{CARD}，一直没更新",
        f"order #{CARD} is late",
        f"Tracking number: {CARD}",
        f"SF{CARD}",
        "订单号13812345678还没发货",
    ):
        assert mask(clean) == (clean, [])


def test_a_card_or_phone_without_a_reference_label_is_still_masked() -> None:
    assert mask(f"卡号{CARD}，订单还没到")[0] == "卡号[CARD]，订单还没到"
    assert mask(f"refund to {CARD} please")[0] == "refund to [CARD] please"
    assert mask("我订单的电话13812345678")[0] == "我订单的电话[PHONE]"
    assert mask(f"preferred card {CARD}")[0] == "preferred card [CARD]"


def test_a_name_after_wo_jiao_must_start_with_a_surname() -> None:
    # 叫 is also "to order" (叫外卖): what was ordered is not a name.
    assert mask("我叫黄焖鸡米饭，送错了")[0] == "我叫黄焖鸡米饭，送错了"
    assert mask("我叫了两份，只到一份")[0] == "我叫了两份，只到一份"
    assert mask("我叫米饭，没送")[0] == "我叫米饭，没送"
    assert mask("记住，我叫叶良辰")[0] == "记住，我叫[NAME]"
    assert mask("我叫欧阳娜娜的快递")[0] == "我叫[NAME]的快递"
    assert mask("我叫阿依古丽·买买提，")[0] == "我叫[NAME]，"
    # After an explicit label whatever follows is the name.
    assert mask("收货人：小明，电话没人接")[0] == "收货人：[NAME]，电话没人接"
    assert mask("姓名：阿依古丽·买买提，")[0] == "姓名：[NAME]，"


def test_words_after_i_am_that_are_not_names_stay() -> None:
    for clean in (
        "I'm Having problems",
        "I am Extremely upset",
        "I am Platinum and ignored",
        "I am But a customer",
    ):
        assert mask(clean) == (clean, [])
    assert mask("This is John Smith calling")[0] == "This is [NAME] calling"
    assert mask("My name is Sterling")[0] == "My name is [NAME]"


def test_numbers_written_in_groups_or_with_an_international_prefix_are_masked() -> None:
    for text, masked in (
        (f"身份证 {ID[:6]} {ID[6:14]} {ID[14:]} 谢谢", "身份证 [ID] 谢谢"),
        (f"身份证{ID[:6]}-{ID[6:14]}-{ID[14:]}", "身份证[ID]"),
        ("(+86)13812345678 这是我的号码", "[PHONE] 这是我的号码"),
        ("（+86）138 1234 5678", "[PHONE]"),
        ("电话：138.1234.5678", "电话：[PHONE]"),
        ("座机010 6234 5678", "座机[PHONE]"),
        ("座机0571-8765 4321", "座机[PHONE]"),
        ("Phone: +86 (0)10 6234 5678", "Phone: [PHONE]"),
        ("call +86 21 6234 5678 please", "call [PHONE] please"),
        ("tel 021-62345678-123", "tel [PHONE]"),
        ("电话021-62345678转123", "电话[PHONE]"),
    ):
        assert mask(text)[0] == masked


def test_grouped_digits_that_are_not_phones_or_ids_stay() -> None:
    for clean in (
        "身份证110105 19491231-002X",  # two kinds of separator: not one number
        "身份证 110105 19491231 0021",  # check digit wrong
        "2026 1201 1234",
        "价格 0571 2345",
        "工单号 0571-62345678 还没处理",
    ):
        assert mask(clean) == (clean, [])


def test_taiwan_and_hong_kong_numbers_are_masked() -> None:
    for text, masked in (
        ("手機0912-345-678，謝謝", "手機[PHONE]，謝謝"),
        ("+886 912 345 678", "[PHONE]"),
        ("市話(02)2345-6789", "市話[PHONE]"),
        ("+886 2 2345 6789", "[PHONE]"),
        ("香港電話 +852 9123 4567", "香港電話 [PHONE]"),
        ("身分證字號A123456789", "身分證字號[ID]"),
        ("身份證 A123456(3) 已提供", "身份證 [ID] 已提供"),
        ("聯絡人：陳大文，", "聯絡人：[NAME]，"),
    ):
        assert mask(text)[0] == masked


def test_taiwan_and_hong_kong_codes_that_fail_their_checks_or_are_labelled_stay() -> None:
    for clean in ("身分證A123456788", "身份證A123456(4)", "訂單編號A123456789", "价格 0912", "9123 4567"):
        assert mask(clean) == (clean, [])


def test_north_american_and_international_numbers_are_masked_toll_free_lines_stay() -> None:
    for text, masked in (
        ("Please call me at 310-795-2210.", "Please call me at [PHONE]."),
        ("my number is (631)891-5722", "my number is [PHONE]"),
        ("+1 (415) 555-0134 anytime", "[PHONE] anytime"),
        ("call me +44 20 7946 0958", "call me [PHONE]"),
        ("text +49 151 23456789", "text [PHONE]"),
    ):
        assert mask(text)[0] == masked
    for clean in (
        "call 1-800-433-7300 and see",
        "(888) 555-0199 never answers",
        "confirmation 415-555-0134",
        "ticket 555-1234",
        "from 2014-2015 season",
        "temp +12.5 today",
    ):
        assert mask(clean) == (clean, [])


def test_cues_and_surnames_are_read_in_traditional_too() -> None:
    # Masking reads the comment as written; 陳 is 陈 and 訂單號 is 订单号 in the fold.
    assert mask("我叫陳大文，電話13812345678")[0] == "我叫[NAME]，電話[PHONE]"
    assert mask(f"訂單號：{CARD} 還沒到") == (f"訂單號：{CARD} 還沒到", [])
