"""A tenant's own English word model, taught by the shipped model where it is sure.

Self-training: the shipped model (with the tenant's class mix) labels the
tenant's comments; those it labels with a probability of at least 0.9 teach
a small logistic model over the words and word pairs of the tenant's own
comments, and every later analysis averages the two models' log-probabilities.
The shipped model knows general English; this one learns how this tenant's
customers put things ("on hold", "rebooked", "still no bag"), from their
comments alone, no label read. Stored as JSON in ``text_models`` (kind
``reader-en``): ``{"terms": {term: [negative, neutral, positive]}, ...}``,
so anyone can read which words moved a label.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np

from cxloop.text.sentiment import EN_LABELS, MENTION

KIND = "reader-en"
_TERM = re.compile(r"(?u)\b\w[\w']*\b")
#: The shipped model's probability at or above which its label teaches.
CONFIDENCE = 0.9
#: The word model's share in the averaged log-probabilities.
WEIGHT = 0.5
#: The terms kept, by their largest weight: enough to keep the gain, small enough to read.
TERMS = 2000
MIN_PER_CLASS = 10
MIN_COMMENTS_PER_TERM = 3


def terms(text: str) -> list[str]:
    """Lower-cased words and adjacent word pairs, mentions and links left out."""
    words = _TERM.findall(MENTION.sub(" ", text).lower())
    return words + [f"{first} {second}" for first, second in itertools.pairwise(words)]


class WordReader:
    """Applies a stored word model: ``blend`` averages it into the shipped model's log-probabilities."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.terms: dict[str, list[float]] = params["terms"]
        self.intercept = np.asarray(params["intercept"], dtype=float)
        self.weight = float(params.get("weight", WEIGHT))

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        logits = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            for term in set(terms(text)):
                weights = self.terms.get(term)
                if weights is not None:
                    logits[row] += weights
        logits -= logits.max(axis=1, keepdims=True)
        return np.asarray(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))

    def blend(self, log_p: np.ndarray, texts: list[str]) -> np.ndarray:
        mixed = (1 - self.weight) * log_p + self.weight * self.log_probabilities(texts)
        return np.asarray(mixed - np.log(np.exp(mixed).sum(axis=1, keepdims=True)))


def train(texts: list[str], log_p: np.ndarray) -> dict[str, Any] | None:
    """The word model's params from the tenant's comments and the shipped model's reading of them.

    None when the model is sure of fewer than ``MIN_PER_CLASS`` comments of some class."""
    from sklearn.feature_extraction.text import CountVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    probabilities = np.exp(log_p)
    sure = np.flatnonzero(probabilities.max(axis=1) >= CONFIDENCE)
    labels = probabilities.argmax(axis=1)[sure]
    taught = np.bincount(labels, minlength=len(EN_LABELS))
    if int(taught.min()) < MIN_PER_CLASS:
        return None
    vectorizer = CountVectorizer(analyzer=terms, min_df=MIN_COMMENTS_PER_TERM, binary=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no term in enough comments
        return None
    classifier = LogisticRegression(C=0.5, max_iter=2000).fit(matrix[sure], labels)
    coef = classifier.coef_
    names = vectorizer.get_feature_names_out()
    kept = np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:TERMS]
    return {
        "terms": {str(names[i]): [round(float(w), 4) for w in coef[:, i]] for i in sorted(kept)},
        "intercept": [round(float(b), 4) for b in classifier.intercept_],
        "weight": WEIGHT,
        "taught_by": {label: int(count) for label, count in zip(EN_LABELS, taught, strict=True)},
    }


def english_adaptation(
    texts: list[str], model_dir: Path, adapter_weights: dict[str, float] | None = None
) -> tuple[dict[str, float] | None, dict[str, Any] | None]:
    """(class mix, word model params) of a tenant's English comments; (None, None) below 200 of them.

    Pure and in one place, so the analysis process (runner.py), a command
    and the benchmark all adapt the same way."""
    from cxloop.text import sentiment

    if len(texts) < sentiment.EN_PRIOR_MIN_COMMENTS:
        return None, None
    adapter = sentiment.Adapter(adapter_weights, "en") if adapter_weights else None
    log_p = sentiment.en_log_probabilities(texts, model_dir, adapter)
    mix = sentiment.en_class_mix(log_p)
    if mix is None:
        return None, None
    return mix, train(texts, sentiment.with_prior(log_p, mix))
