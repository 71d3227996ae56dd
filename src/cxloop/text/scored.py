"""A tenant's scored Chinese comments, stacked on the shipped model.

Comments whose response gave NPS 0-6 are negative, 9-10 positive. From
them a logistic regression over character 1-3 grams learns the tenant's
own words (dish names, its app's screens, its couriers' slang), and a
second, two-weight one learns how far to trust it beside the shipped
score: ``fused = a * atanh(shipped) + b * tenant_margin + c``, the new
score ``tanh(fused / 2)`` (P(positive) - P(negative)). The two weights
are fitted on margins the tenant model gave comments it was not trained
on (5-fold), so it is trusted only as far as it predicts new comments.

On waimai_10k, adapting on one half and scoring the other: 0.854 shipped,
0.872 from 1,000 scored comments, 0.887 from 6,000 (the word-weight nudge
it replaces: 0.862; docs/benchmarks.md). Stored as JSON in ``text_models`` (kind ``scored-zh``):
``{"terms": {gram: weight}, "intercept", "fuse": [a, b, c], "taught_by"}``,
the heaviest ``TOP_TERMS`` grams only, readable by anyone who asks why.
See docs/adr/0018 (2026-12-03).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

KIND = "scored-zh"
#: Each class needs this many scored comments, or the tenant's model is not trained.
MIN_PER_CLASS = 25
#: The heaviest grams kept (the rest weigh little; 5,000 keep the JSON near 100 KB).
TOP_TERMS = 5_000
#: Inverse regularisation of the tenant model (0.5 of 0.1..4 by cross-validation on the scored half).
TENANT_C = 0.5
FOLDS = 5
# atanh(1) is infinite; the shipped score never quite reaches 1, but rounding may.
_EDGE = 0.999
_SPACES = re.compile(r"\s+")


def grams(text: str) -> set[str]:
    """The text's distinct character 1-3 grams, lower-cased, runs of white space as one."""
    plain = _SPACES.sub(" ", text.lower())
    return {plain[i : i + n] for n in (1, 2, 3) for i in range(len(plain) - n + 1)}


def _logit(score: float) -> float:
    return math.atanh(max(-_EDGE, min(_EDGE, score)))


def _fit(matrix: Any, labels: Any, names: Sequence[str]) -> tuple[dict[str, float], float]:
    """The tenant model's heaviest weights and its intercept."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    model = LogisticRegression(C=TENANT_C, class_weight="balanced", solver="liblinear", max_iter=1000)
    model.fit(matrix, labels)
    coef = model.coef_[0]
    order = np.argsort(-np.abs(coef))[:TOP_TERMS]
    terms = {str(names[i]): round(float(coef[i]), 4) for i in order if coef[i] != 0.0}
    return terms, float(model.intercept_[0])


def train(texts: Sequence[str], labels: Sequence[int], shipped: Sequence[float]) -> dict[str, Any] | None:
    """The stacked model from scored comments (label 1 positive, 0 negative) and the shipped
    model's scores of them; None while either class has fewer than ``MIN_PER_CLASS``."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    if not len(texts) == len(labels) == len(shipped):
        raise ValueError("one label and one shipped score per text")
    taught_by = {"negative": sum(1 for y in labels if y == 0), "positive": sum(1 for y in labels if y == 1)}
    if min(taught_by.values()) < MIN_PER_CLASS:
        return None
    vectorizer = CountVectorizer(analyzer=grams, binary=True)
    try:
        matrix = vectorizer.fit_transform(list(texts))
    except ValueError:  # every text empty: nothing to learn from
        return None
    names = vectorizer.get_feature_names_out()
    target = np.asarray(labels)
    held_out = np.zeros(len(texts))
    for train_rows, test_rows in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(matrix, target):
        terms, intercept = _fit(matrix[train_rows], target[train_rows], names)
        held_out[test_rows] = [intercept + _margin(terms, texts[i]) for i in test_rows]
    stacked = np.column_stack([[_logit(s) for s in shipped], held_out])
    fuser = LogisticRegression(C=1.0, class_weight="balanced").fit(stacked, target)
    terms, intercept = _fit(matrix, target, names)
    a, b = (round(float(w), 4) for w in fuser.coef_[0])
    return {
        "terms": terms,
        "intercept": round(intercept, 4),
        "fuse": [a, b, round(float(fuser.intercept_[0]), 4)],
        "taught_by": taught_by,
    }


def _margin(terms: dict[str, float], text: str) -> float:
    return sum(terms.get(gram, 0.0) for gram in grams(text))


class ScoredModel:
    """A stored ``scored-zh`` model, applied to the shipped model's scores."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.terms: dict[str, float] = params["terms"]
        self.intercept = float(params["intercept"])
        self.a, self.b, self.c = (float(w) for w in params["fuse"])

    def margin(self, text: str) -> float:
        """The tenant model's log-odds that the comment is positive."""
        return self.intercept + _margin(self.terms, text)

    def rescore(self, texts: Sequence[str], shipped: Sequence[float]) -> list[float]:
        return [
            math.tanh((self.a * _logit(score) + self.b * self.margin(text) + self.c) / 2)
            for text, score in zip(texts, shipped, strict=True)
        ]
