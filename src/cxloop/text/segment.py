"""Word segmentation: jieba for Chinese (its cache in our model dir, never
the default /tmp), a regular expression for everything else."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from cxloop.text import lexicon_zh

_lock = threading.Lock()
_tokenizer: Any = None
_cache_dir: Path | None = None

_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*|[\u3400-\u9fff]+|[^\sa-z0-9\u3400-\u9fff]", re.IGNORECASE)


def configure(cache_dir: Path) -> None:
    """Where jieba keeps its dictionary cache (call before the first segmentation)."""
    global _cache_dir
    _cache_dir = cache_dir


def _jieba() -> Any:
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            import logging

            import jieba  # type: ignore[import-untyped]

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            if _cache_dir is not None:
                _cache_dir.mkdir(parents=True, exist_ok=True)
                tokenizer.tmp_dir = str(_cache_dir)
                tokenizer.cache_file = str(_cache_dir / "jieba.cache")
            tokenizer.initialize()
            # Keep our sentiment words whole ("态度差", "不新鲜") so that rules see them.
            for word in (*lexicon_zh.POSITIVE, *lexicon_zh.NEGATIVE, *lexicon_zh.NEGATORS):
                if len(word) > 1:
                    tokenizer.add_word(word, freq=2000)
            _tokenizer = tokenizer
    return _tokenizer


def tokenizer() -> Any:
    return _jieba()


def words_zh(text: str) -> list[str]:
    return [w for w in _jieba().lcut(text, HMM=True) if w.strip()]


def words_en(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def words(text: str, language: str) -> list[str]:
    """Tokens of a cleaned text; Chinese and mixed text goes through jieba (which keeps Latin words)."""
    if language in ("zh", "mixed"):
        return [w.lower() for w in words_zh(text)]
    return words_en(text)
