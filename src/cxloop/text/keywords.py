"""Keywords and key phrases of one comment, for trends and topic discovery.

Chinese: jieba's TF-IDF (its bundled IDF table, our tokenizer so the cache
stays in our dir). English: words that are not stop words, and adjacent
pairs of them as phrases.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from cxloop.text import segment

TOP = 5

_STOP_EN = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "nor",
        "not",
        "only",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "s",
        "t",
        "can",
        "will",
        "just",
        "don",
        "should",
        "now",
        "get",
        "got",
        "would",
        "could",
        "im",
        "i'm",
        "it's",
        "dont",
        "can't",
        "cant",
        "u",
        "ur",
        "amp",
        "via",
        "just",
        "thanks",
    ]
)
_STOP_ZH = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "在",
        "也",
        "就",
        "都",
        "和",
        "与",
        "及",
        "还",
        "又",
        "很",
        "太",
        "吧",
        "呢",
        "啊",
        "吗",
        "嘛",
        "呀",
        "哦",
        "这",
        "那",
        "有",
        "没",
        "不",
        "一个",
        "什么",
        "这个",
        "那个",
        "就是",
        "但是",
        "可是",
        "还是",
        "因为",
        "所以",
        "而且",
        "一下",
        "一点",
        "真的",
        "非常",
        "比较",
        "特别",
        "已经",
        "自己",
        "我们",
        "你们",
        "他们",
        "然后",
        "感觉",
        "觉得",
        "东西",
    ]
)
_HAN = re.compile(r"[\u4e00-\u9fff]")

_lock = threading.Lock()
_tfidf: Any = None


def _extractor() -> Any:
    global _tfidf
    if _tfidf is None:
        with _lock:
            if _tfidf is None:
                import jieba.analyse  # type: ignore[import-untyped]

                extractor = jieba.analyse.TFIDF()
                extractor.tokenizer = extractor.postcut = segment.tokenizer()
                _tfidf = extractor
    return _tfidf


def keywords(text: str, words: list[str], language: str) -> list[str]:
    if language in ("zh", "mixed"):
        extractor = _extractor()
        freq: dict[str, float] = {}
        for w in words:
            if len(w) < 2 or w in _STOP_ZH or not (_HAN.search(w) or w.isalpha()) or w in _STOP_EN:
                continue
            freq[w] = freq.get(w, 0.0) + 1.0
        if not freq:
            return []
        idf, median = extractor.idf_freq, extractor.median_idf
        ranked = sorted(freq, key=lambda w: -freq[w] * idf.get(w, median))
        return ranked[:TOP]
    counts: dict[str, int] = {}
    for w in words:
        if len(w) > 2 and w.isalpha() and w not in _STOP_EN:
            counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=lambda w: -counts[w])[:TOP]


def phrases(words: list[str], language: str, limit: int = 3) -> list[str]:
    """Adjacent content-word pairs ("送餐 太慢", "flight delayed")."""
    stop = _STOP_ZH if language in ("zh", "mixed") else _STOP_EN
    joiner = "" if language in ("zh", "mixed") else " "
    out: list[str] = []
    for a, b in itertools.pairwise(words):
        if a in stop or b in stop or not (a.isalnum() and b.isalnum()):
            continue
        if language == "en" and (len(a) < 3 or len(b) < 3):
            continue
        phrase = a + joiner + b
        if phrase not in out:
            out.append(phrase)
        if len(out) >= limit:
            break
    return out
