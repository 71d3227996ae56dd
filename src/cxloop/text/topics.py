"""Topics from a tenant taxonomy: keyword rules (negation-aware) and a
learned model trained from the team's corrections.

The engine gets the taxonomy as plain ``TopicSpec`` tuples, so it can be
sent to the analysis process as is. Rules say which words matched; the
model says how confident it is and which words pulled it there. The model
is a set of per-topic weights over words, word pairs, character n-grams and
the rules' matches, with the idf that normalises them (JSON), kept in the
database and shown (ADR 0018).
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
    # Comments are read folded to Simplified, so a tenant's 服務 has to be too.
    cleaned = sorted(
        {normalize.to_simplified(w.strip().lower()) for w in words if w.strip().rstrip("*")},
        key=len,
        reverse=True,
    )
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

MODEL_VERSION = 2
CHAR_NGRAMS = (2, 5)
RULE_FEATURE = "rule:"
_CHAR_PREFIX = "#"
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
MAX_WHY_CHARS = 20
_model_cache: dict[str, TopicModel] = {}


def features(words: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs ("on time", "送餐 太慢"): the model's word inputs."""
    kept = [w for w in words if w.isalnum() or "'" in w]
    return kept + [f"{a} {b}" for a, b in itertools.pairwise(kept)]


def char_features(text: str) -> list[str]:
    """Character 2-5 grams inside each space-separated token, padded with a space at both ends
    (sklearn's ``char_wb``): "delayed" and "delays" share "dela", 登机 and 登机口 share "登机"."""
    out: list[str] = []
    low, high = CHAR_NGRAMS
    for token in text.lower().split():
        padded = f" {token} "
        size = len(padded)
        for n in range(low, high + 1):
            if n > size:
                break
            out.extend(_CHAR_PREFIX + padded[i : i + n] for i in range(size - n + 1))
    return out


def _tfidf(items: Sequence[str], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear tf times idf, L2-normalised; features the model never saw are left out."""
    counts: dict[str, int] = {}
    for item in items:
        if item in idf:
            counts[item] = counts.get(item, 0) + 1
    values = {f: (1.0 + math.log(c)) * idf[f] for f, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in values.values()))
    return {f: v / norm for f, v in values.items()} if norm else {}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))


class TopicModel:
    """Per-topic logistic weights: {"topics": {topic_id: {"b": bias, "w": {feature: weight}}}}.

    Version 2 (``"version": 2``) reads tf-idf of words and word pairs, tf-idf of character
    n-grams ("#" + n-gram; the two blocks normalised apart, idf stored with the model) and
    one feature per topic whose rule matched ("rule:" + topic id). Version 1 (no
    "version") read words and pairs as present / absent."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.version = int(params.get("version", 1))
        idf = params.get("idf") or {}
        self._idf_words: dict[str, float] = idf.get("words", {})
        self._idf_chars: dict[str, float] = idf.get("chars", {})
        self._topics: list[tuple[str, float, dict[str, float]]] = [
            (topic_id, float(model["b"]), model["w"]) for topic_id, model in params.get("topics", {}).items()
        ]
        # Feature -> [(topic index, weight)]: one look-up per feature of a comment, whatever the topics.
        self._by_feature: dict[str, list[tuple[int, float]]] = {}
        for index, (_, _, weights) in enumerate(self._topics):
            for feature, weight in weights.items():
                self._by_feature.setdefault(feature, []).append((index, float(weight)))

    @classmethod
    def is_cached(cls, key: object) -> bool:
        return isinstance(key, str) and key in _model_cache

    @classmethod
    def cached(cls, params: dict[str, Any]) -> TopicModel:
        """One prepared model per stored model (its ``key``), so a stream of calls builds it once."""
        key = params.get("key")
        if not isinstance(key, str):
            return cls(params)
        model = _model_cache.get(key)
        if model is None:
            if len(_model_cache) > 16:
                _model_cache.clear()
            model = _model_cache[key] = cls(params)
        return model

    def vector(
        self, text: str, words: Sequence[str], ruled: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, float]:
        if self.version < 2:
            return dict.fromkeys(features(words), 1.0)
        out = _tfidf(features(words), self._idf_words)
        out.update(_tfidf(char_features(text), self._idf_chars))
        out.update({RULE_FEATURE + t: 1.0 for t in ruled})
        return out

    def _raw(
        self, text: str, words: Sequence[str], ruled: set[str] | frozenset[str]
    ) -> tuple[dict[str, float], list[float]]:
        vector = self.vector(text, words, ruled)
        z = [bias for _, bias, _ in self._topics]
        by_feature = self._by_feature
        for feature, value in vector.items():
            for index, weight in by_feature.get(feature, ()):
                z[index] += value * weight
        return vector, [_sigmoid(v) for v in z]

    def _contributions(self, vector: dict[str, float], index: int) -> dict[str, float]:
        weights = self._topics[index][2]
        return {f: v * weights[f] for f, v in vector.items() if f in weights}

    def scores(
        self, text: str, words: Sequence[str], ruled: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, tuple[float, list[str]]]:
        """{topic id: (probability, the words that pulled it up most)}."""
        vector, probabilities = self._raw(text, words, ruled)
        return {
            topic_id: (probabilities[i], _why(text, self._contributions(vector, i)))
            for i, (topic_id, _, _) in enumerate(self._topics)
        }

    def probabilities(
        self, text: str, words: Sequence[str], ruled: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, float]:
        _, probabilities = self._raw(text, words, ruled)
        return {topic_id: probabilities[i] for i, (topic_id, _, _) in enumerate(self._topics)}

    def assign(
        self, text: str, words: Sequence[str], rule_hits: list[TopicHit], topics: dict[str, TopicSpec]
    ) -> list[TopicHit]:
        """Rule hits and model hits, likeliest first.

        A rule hit stays (the tenant wrote those words) but, where the model knows the topic,
        carries the model's probability, which reads the rule as one of its features; the
        model adds the topics it finds at ``MODEL_THRESHOLD`` or more without a rule."""
        ruled = {h.topic_id for h in rule_hits}
        vector, probabilities = self._raw(text, words, ruled)
        known = {topic_id: i for i, (topic_id, _, _) in enumerate(self._topics)}
        hits = list(rule_hits)
        for hit in hits:
            if hit.topic_id in known:
                hit.confidence = round(probabilities[known[hit.topic_id]], 3)
        for topic_id, index in known.items():
            topic, probability = topics.get(topic_id), probabilities[index]
            if topic is None or topic_id in ruled or probability < MODEL_THRESHOLD:
                continue
            why = _why(text, self._contributions(vector, index))
            hits.append(TopicHit(topic_id, topic.path, "model", round(probability, 3), why, []))
        return sorted(hits, key=lambda h: -h.confidence)


def _why(text: str, contributions: dict[str, float], limit: int = 5) -> list[str]:
    """The comment's words that pulled a topic up most: a word counts its own weight, the
    weights of the pairs it is in and those of its character n-grams."""
    if not contributions:
        return []
    pulled: dict[str, float] = {}
    for feature, value in contributions.items():
        if not feature.startswith((_CHAR_PREFIX, RULE_FEATURE)):
            for word in feature.split(" "):
                pulled[word] = pulled.get(word, 0.0) + value
    if any(f.startswith(_CHAR_PREFIX) for f in contributions):
        for token in set(text.lower().split()):
            word = _EDGE_PUNCTUATION.sub("", token)[:MAX_WHY_CHARS]
            if word:
                grams = set(char_features(token))
                pulled[word] = pulled.get(word, 0.0) + sum(contributions.get(g, 0.0) for g in grams)
    ranked = sorted(pulled.items(), key=lambda x: (-x[1], x[0]))
    return [w for w, value in ranked if value > 0][:limit]


def train_topic_model(
    examples: Sequence[tuple[str, str, set[str]]],
    topic_ids: Sequence[str],
    tokenize: Callable[[str, str], list[str]] = segment.words,
    *,
    topics: Sequence[TopicSpec] = (),
    min_positive: int = 3,
    top: int = 3000,
    c: float = 10.0,
) -> dict[str, Any]:
    """One-vs-rest logistic weights from (text, language, topic ids) examples; topics with too few
    are left out. ``topics`` (the taxonomy) gives the rule features: where a topic's words match."""
    import hashlib
    import json

    import numpy as np
    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    cleaned = [normalize.clean(text) for text, _, _ in examples]
    if len(cleaned) < 2:
        return {"version": MODEL_VERSION, "topics": {}, "examples": len(cleaned)}
    words = [
        features(tokenize(text, language)) for text, (_, language, _) in zip(cleaned, examples, strict=True)
    ]
    chars = [char_features(text) for text in cleaned]
    compiled = CompiledTaxonomy(topics)
    ruled_ids = sorted({t.id for t in topics})
    ruled = [{h.topic_id for h in compiled.match(text)} for text in cleaned]
    word_vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, lowercase=False)
    char_vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, lowercase=False, min_df=2)
    blocks = [word_vectorizer.fit_transform(words)]
    names = [str(n) for n in word_vectorizer.get_feature_names_out()]
    try:
        blocks.append(char_vectorizer.fit_transform(chars))
        names += [str(n) for n in char_vectorizer.get_feature_names_out()]
        char_idf = dict(zip(char_vectorizer.get_feature_names_out(), char_vectorizer.idf_, strict=True))
    except ValueError:  # no character n-gram in two examples
        char_idf = {}
    rule_matrix = np.array([[1.0 if t in r else 0.0 for t in ruled_ids] for r in ruled])
    blocks.append(sparse.csr_matrix(rule_matrix.reshape(len(cleaned), len(ruled_ids))))
    names += [RULE_FEATURE + t for t in ruled_ids]
    matrix = sparse.hstack(blocks).tocsr()
    out: dict[str, Any] = {}
    for topic_id in topic_ids:
        labels = [1 if topic_id in given else 0 for _, _, given in examples]
        positives = sum(labels)
        if positives < min_positive or positives == len(labels):
            continue
        classifier = LogisticRegression(C=c, max_iter=1000, class_weight="balanced").fit(matrix, labels)
        coef = classifier.coef_[0]
        order = np.argsort(-np.abs(coef))[:top]
        weights = {names[i]: round(float(coef[i]), 4) for i in order if abs(coef[i]) > 0.001}
        out[topic_id] = {"b": round(float(classifier.intercept_[0]), 4), "w": weights, "n": positives}
    kept = {f for model in out.values() for f in model["w"]}
    word_idf = dict(zip(word_vectorizer.get_feature_names_out(), word_vectorizer.idf_, strict=True))
    params: dict[str, Any] = {
        "version": MODEL_VERSION,
        "topics": out,
        "examples": len(cleaned),
        "c": c,
        "idf": {
            "words": {str(f): round(float(v), 3) for f, v in word_idf.items()},
            "chars": {str(f): round(float(v), 3) for f, v in char_idf.items()},
        },
        "kept_features": len(kept),
    }
    params["key"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return params


def _identity(items: list[str]) -> list[str]:
    return items
