"""The respondent pages' own catalogs: zh-TW has every respondent text, in
Traditional Chinese, and nothing the pages no longer use."""

from __future__ import annotations

from babel.messages.pofile import read_po

from cxloop.web.i18n import LOCALE_DIR
from cxloop.web.pages.respond_view import chrome_locale, gettext_in


def messages(folder: str) -> dict[str, str]:
    with (LOCALE_DIR / folder / "LC_MESSAGES" / "respond.po").open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def test_zh_tw_translates_exactly_the_respondent_texts() -> None:
    simplified, traditional, english = messages("zh_CN"), messages("zh_TW"), messages("en")
    assert set(traditional) == set(simplified) == set(english)
    assert all(traditional.values()) and all(simplified.values())
    assert traditional["Submit"] == "送出" and simplified["Submit"] == "提交"


def test_chrome_languages() -> None:
    assert [chrome_locale(tag) for tag in ("zh-TW", "zh-HK", "zh-Hant-TW", "zh-CN", "zh", "en", "ja")] == [
        "zh-TW",
        "zh-TW",
        "zh-TW",
        "zh-CN",
        "zh-CN",
        "en",
        "en",
    ]
    assert gettext_in("zh-TW", "Next") == "下一頁"
    assert gettext_in("zh-CN", "Next") == "下一页"
    assert gettext_in("en", "Next") == "Next"
    # Texts outside the respondent catalog read in zh-CN for zh-TW respondents.
    assert gettext_in("zh-TW", "Sign in") == "登录"
