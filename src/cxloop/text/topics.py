"""Topics from a tenant taxonomy: keyword rules (negation-aware) and a
learned model trained from the team's corrections.

The engine gets the taxonomy as plain ``TopicSpec`` tuples, so it can be
sent to the analysis process as is. Rules say which words matched; the
model says how confident it is and which words pulled it there. The model
is a set of per-topic word weights (JSON), small enough to keep in the
database and to show.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxloop.text import normalize, segment

MODEL_THRESHOLD = 0.5
RULE_CONFIDENCE = 1.0

# "不是价格的问题", "not about the price": a mention that says the topic is not the issue.
_NOT_ABOUT_BEFORE_ZH = ("不是", "并非", "不关", "无关")
_NOT_ABOUT_AFTER_ZH = ("没问题", "没毛病", "无关", "不是问题", "倒是其次")
_NOT_ABOUT_BEFORE_EN = re.compile(
    r"(?:not about|nothing to do with|no (?:issue|problem)s? with|not the)\s+(?:the\s+|my\s+)?$"
)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[，,。.!！?？;；\n]")


@dataclass(frozen=True)
class TopicSpec:
    id: str
    path: str
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class TopicHit:
    topic_id: str
    path: str
    source: str
    confidence: float
    matched: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    sentiment: str | None = None
    score: float | None = None


def _keyword_pattern(word: str) -> str:
    word = word.strip().lower()
    wildcard = word.endswith("*")
    stem = re.escape(word.rstrip("*"))
    if _LATIN.search(word):
        tail = r"[a-z]*" if wildcard else ""
        return rf"(?<![a-z]){stem}{tail}(?![a-z])"
    return stem


def _alternation(words: Sequence[str]) -> re.Pattern[str] | None:
    # A bare "*" would match everywhere: only words with something before the star count.
    cleaned = sorted({w.strip().lower() for w in words if w.strip().rstrip("*")}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(_keyword_pattern(w) for w in cleaned))


class CompiledTaxonomy:
    def __init__(self, topics: Sequence[TopicSpec]) -> None:
        self.topics = list(topics)
        self._rules: list[tuple[TopicSpec, re.Pattern[str], re.Pattern[str] | None]] = []
        for topic in self.topics:
            pattern = _alternation(topic.keywords)
            if pattern is not None:
                self._rules.append((topic, pattern, _alternation(topic.exclude)))

    def match(self, text: str) -> list[TopicHit]:
        lowered = text.lower()
        hits = []
        for topic, pattern, exclude in self._rules:
            if exclude is not None and exclude.search(lowered):
                continue
            matched: list[str] = []
            spans: list[tuple[int, int]] = []
            for m in pattern.finditer(lowered):
                if _not_about(lowered, m.start(), m.end()):
                    continue
                matched.append(text[m.start() : m.end()])
                spans.append((m.start(), m.end()))
            if matched:
                hits.append(
                    TopicHit(topic.id, topic.path, "rule", RULE_CONFIDENCE, sorted(set(matched)), spans)
                )
        return hits


def _not_about(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 6) : start]
    after = text[end : end + 8]
    if any(before.endswith(w) or before[-4:].find(w) >= 0 for w in _NOT_ABOUT_BEFORE_ZH):
        return True
    if any(after.startswith(w) or after[:4].find(w) >= 0 for w in _NOT_ABOUT_AFTER_ZH):
        return True
    return bool(_NOT_ABOUT_BEFORE_EN.search(text[max(0, start - 30) : start]))


def clause_around(text: str, start: int, end: int) -> str:
    """The clause a mention sits in, for its own sentiment."""
    left = start
    while left > 0 and not _CLAUSE_END.match(text[left - 1]):
        left -= 1
    right = end
    while right < len(text) and not _CLAUSE_END.match(text[right]):
        right += 1
    return text[left:right]


# --- the learned model ---------------------------------------------------------


def features(words: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs ("on time", "送餐 太慢"): the model's inputs."""
    kept = [w for w in words if w.isalnum() or "'" in w]
    return kept + [f"{a} {b}" for a, b in itertools.pairwise(kept)]


class TopicModel:
    """Per-topic logistic weights over words: {topic_id: {"b": bias, "w": {word: weight}}}."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def predict(self, words: Sequence[str], topics: dict[str, TopicSpec]) -> list[TopicHit]:
        present = set(features(words))
        hits = []
        for topic_id, model in self.params.get("topics", {}).items():
            topic = topics.get(topic_id)
            if topic is None:
                continue
            weights: dict[str, float] = model["w"]
            contributions = [(w, weights[w]) for w in present if w in weights]
            z = float(model["b"]) + sum(c for _, c in contributions)
            probability = 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))
            if probability >= MODEL_THRESHOLD:
                why = [w for w, c in sorted(contributions, key=lambda x: -x[1]) if c > 0][:5]
                hits.append(TopicHit(topic_id, topic.path, "model", round(probability, 3), why, []))
        return hits

    def probabilities(self, words: Sequence[str]) -> dict[str, float]:
        present = set(features(words))
        out = {}
        for topic_id, model in self.params.get("topics", {}).items():
            weights = model["w"]
            z = float(model["b"]) + sum(weights.get(w, 0.0) for w in present)
            out[topic_id] = 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))
        return out


def train_topic_model(
    examples: Sequence[tuple[str, str, set[str]]],
    topic_ids: Sequence[str],
    tokenize: Callable[[str, str], list[str]] = segment.words,
    *,
    min_positive: int = 3,
    top: int = 3000,
) -> dict[str, Any]:
    """One-vs-rest weights from (text, language, topic ids) examples; topics with too few are left out."""
    from sklearn.feature_extraction.text import CountVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    docs = [features(tokenize(normalize.clean(text), language)) for text, language, _ in examples]
    if len(docs) < 2:
        return {"topics": {}, "examples": len(docs)}
    vectorizer = CountVectorizer(analyzer=lambda d: d, binary=True, min_df=1)
    matrix = vectorizer.fit_transform(docs)
    names = vectorizer.get_feature_names_out()
    out: dict[str, Any] = {}
    for topic_id in topic_ids:
        labels = [1 if topic_id in topics else 0 for _, _, topics in examples]
        positives = sum(labels)
        if positives < min_positive or positives == len(labels):
            continue
        classifier = LogisticRegression(C=2.0, max_iter=500, class_weight="balanced").fit(matrix, labels)
        coef = classifier.coef_[0]
        order = sorted(range(len(coef)), key=lambda i: -abs(coef[i]))[:top]
        weights = {str(names[i]): round(float(coef[i]), 4) for i in order if abs(coef[i]) > 0.01}
        out[topic_id] = {"b": round(float(classifier.intercept_[0]), 4), "w": weights, "n": positives}
    return {"topics": out, "examples": len(docs)}
