"""Cleaning before analysis: markup out, length capped, Traditional Chinese
folded to Simplified, and the language told from the script.

Models see at most ``MAX_ANALYZED_CHARS`` characters (masking ``MAX_KEPT_CHARS``), so a 100 KB
comment costs the same as a long normal one.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

from cxloop.text.resources import traditional_to_simplified

MAX_ANALYZED_CHARS = 1000
# What is kept (masked) and shown of a comment; only its start is analysed.
MAX_KEPT_CHARS = 10_000
# What a comment may be before cleaning; beyond that we cut first, so the
# regular expressions below never see megabytes.
MAX_INPUT_CHARS = 2 * MAX_KEPT_CHARS

_TAG = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<[^>]{0,500}>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_FULLWIDTH = {
    **{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},
    **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},
    **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},
    0xFF20: ord("@"),
    0xFF0D: ord("-"),
    0x3000: ord(" "),
}
_HAN_GAP = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def clean(text: str) -> str:
    """Plain text: tags removed, entities decoded, controls dropped, spaces collapsed, length capped."""
    if not text:
        return ""
    text = text[:MAX_INPUT_CHARS]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    # Full-width digits and letters (１３８…, ＡＢＣ) become ASCII so numbers are found; Chinese
    # punctuation stays as written: it is what people see, and what the model was trained on.
    text = text.translate(_FULLWIDTH)
    text = _SPACE.sub(" ", text).strip()
    # A tag between two Chinese characters left a space no writer put there.
    text = _HAN_GAP.sub("", text)
    return text[:MAX_KEPT_CHARS]


# Common in Taiwan reviews and missing from snownlp's table (超讚, 喫).
_T2S_MISSING = {"讚": "赞", "喫": "吃"}


@functools.cache
def _t2s_chars() -> dict[int, str]:
    table = {ord(k): v for k, v in traditional_to_simplified().items() if len(k) == 1}
    table.update({ord(k): v for k, v in _T2S_MISSING.items()})
    return table


def to_simplified(text: str) -> str:
    """Fold Traditional characters to Simplified, character by character (phrase-level
    differences such as 印表機 -> 打印机 are left: the models see characters)."""
    return text.translate(_t2s_chars())


def is_traditional(text: str) -> bool:
    table = _t2s_chars()
    return any(ord(ch) in table for ch in text)


def detect_language(text: str) -> str:
    """``zh``, ``en``, ``mixed``, ``ja``, ``ko`` or ``und`` (nothing to tell from), by script.

    Short comments defeat statistical detectors; the script is what decides
    which models apply, so counting Han characters against Latin words is
    both faster and more reliable here. Japanese (kana beside its kanji) and
    Korean (Hangul) are told apart so the Chinese models do not read them.
    """
    han = len(_HAN.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    kana = len(_KANA.findall(text))
    # Chinese text quotes the odd の (好吃の店); in Japanese, kana are a third of the letters or more.
    if kana >= 2 and kana * 2 >= han and kana >= latin:
        return "ja"
    hangul = len(_HANGUL.findall(text))
    if hangul > han and hangul >= latin:
        return "ko"
    if han == 0 and latin == 0:
        return "und"
    if han == 0:
        return "en"
    if latin == 0:
        return "zh"
    # A brand name or "App" inside Chinese is still Chinese.
    if han >= 2 * latin:
        return "zh"
    if latin >= 3 * han:
        return "en"
    return "mixed"


def latin_share(text: str) -> float:
    """How much of a mixed comment is English: Latin words against Han characters (two to a word)."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    return latin / (latin + han / 2) if latin else 0.0


def without_han(text: str) -> str:
    """The comment with its Chinese left out ("The 客服 was rude" -> "The was rude")."""
    return _SPACE.sub(" ", _HAN_RUN.sub(" ", text)).strip()
