"""``analyze_texts``: the whole per-comment analysis, pure (no database).

Runs where the models live (see runner.py): the analysis process, a worker,
a CLI command or a test. Each text is cleaned and capped first, so bad input
(empty, 100 KB, HTML, emoji) costs no more than a normal comment.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cxloop.text import lexicon_zh, normalize, pii, scored, segment, self_training, sentiment, urgency
from cxloop.text.default_taxonomy import DEFAULT_TAXONOMY
from cxloop.text.keywords import keywords, phrases
from cxloop.text.topics import CompiledTaxonomy, TopicHit, TopicModel, TopicSpec, clause_around


@dataclass
class TextAnalysis:
    language: str
    sentiment: str
    sentiment_score: float
    topics: list[TopicHit] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    urgency: list[str] = field(default_factory=list)
    pii: list[str] = field(default_factory=list)
    masked_text: str = ""
    traditional: bool = False
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    """What varies per tenant: the taxonomy, its learned topic model, sentiment adapters."""

    topics: tuple[TopicSpec, ...] = ()
    topic_model: dict[str, Any] | None = None
    #: {language: word weights}: the nudge learned from scored comments (English; Chinese before
    #: its scored model replaced it, still read where a tenant has not re-adapted since).
    adapters: dict[str, dict[str, float]] | None = None
    #: {"zh": params}: the tenant's scored-comment model stacked on the shipped one (scored.py).
    scored_models: dict[str, dict[str, Any]] | None = None
    #: {"en": {"negative": p, "neutral": p, "positive": p}}: the tenant's estimated class mix.
    class_priors: dict[str, dict[str, float]] | None = None
    #: {"en": params}: the tenant's self-trained word model (self_training.py).
    word_readers: dict[str, dict[str, Any]] | None = None
    mask_pii: bool = True


_state_lock = threading.Lock()
_model_dir: Path | None = None
_compiled: dict[tuple[TopicSpec, ...], CompiledTaxonomy] = {}


def configure(model_dir: Path) -> None:
    """Where trained models and jieba's cache are kept (the data dir's text-models)."""
    global _model_dir
    _model_dir = model_dir
    segment.configure(model_dir)


def configured_model_dir() -> Path | None:
    """The directory an assembly configured for this process, if any."""
    return _model_dir


def model_dir() -> Path:
    if _model_dir is None:
        from cxloop.kit.settings import get_settings

        configure(text_model_dir(get_settings()))
    assert _model_dir is not None
    return _model_dir


def text_model_dir(settings: Any) -> Path:
    configured = getattr(settings, "text_model_dir", None)
    # Absolute, because jieba and the analysis child resolve it from their own working directory.
    return (Path(configured) if configured else Path(settings.data_dir) / "text-models").resolve()


def default_topics(locale: str = "en") -> tuple[TopicSpec, ...]:
    out = []
    for parent in DEFAULT_TAXONOMY:
        for child in parent["children"]:
            words = tuple(w for words in child["keywords"].values() for w in words)
            path = f"{parent['name'][locale]} > {child['name'][locale]}"
            out.append(TopicSpec(child["key"], path, words))
    return tuple(out)


def _compiled_for(topics: tuple[TopicSpec, ...]) -> CompiledTaxonomy:
    compiled = _compiled.get(topics)
    if compiled is None:
        with _state_lock:
            compiled = CompiledTaxonomy(topics)
            if len(_compiled) > 64:
                _compiled.clear()
            _compiled[topics] = compiled
    return compiled


def warm_up() -> None:
    """Load every model now (the analysis process does this at start)."""
    analyze_texts(["送餐很快，味道不错", "Great service, thanks"])


def _zh_clause_sentiment(clause: str) -> sentiment.Sentiment:
    score = math.tanh(sentiment.lexicon_score_zh(clause) / 2.5)
    return sentiment.Sentiment(sentiment.label_of(score), score)


def _prepare(given: object, language: str | None) -> tuple[str, str, bool, bool, str]:
    """(text as the models read it, language, was Traditional, was too long, cleaned text as
    written): cleaned, and read as Simplified; people still see the customer's own script."""
    raw = given if isinstance(given, str) else ""
    truncated = len(raw) > normalize.MAX_ANALYZED_CHARS
    cleaned = normalize.clean(raw)
    lang = language if language in ("zh", "en") else normalize.detect_language(cleaned)
    traditional = lang in ("zh", "mixed") and normalize.is_traditional(cleaned)
    read = normalize.to_simplified(cleaned) if traditional else cleaned
    return read, lang, traditional, truncated, cleaned


def train_scored_zh(texts: Sequence[str], labels: Sequence[int]) -> dict[str, Any] | None:
    """A tenant's ``scored`` model from its scored Chinese comments, each read as
    ``analyze_texts`` reads it (cleaned, Simplified, capped) and scored by the shipped model."""
    read = [_prepare(text, "zh")[0][: normalize.MAX_ANALYZED_CHARS] for text in texts]
    return scored.train(read, labels, sentiment.zh_scores(read, model_dir()))


def analyze_texts(
    texts: Sequence[str], language: str | None = None, context: Context | None = None
) -> list[TextAnalysis]:
    """One ``TextAnalysis`` per text, in order; ``language`` ("zh"/"en") skips detection."""
    context = context or Context(topics=default_topics())
    compiled = _compiled_for(context.topics)
    topic_model = TopicModel.cached(context.topic_model) if context.topic_model else None
    by_id = {t.id: t for t in context.topics}
    adapters = {
        lang: sentiment.Adapter(weights, lang)
        for lang, weights in (context.adapters or {}).items()
        if weights
    }
    read_and_written = [_prepare(given, language) for given in texts]
    # Models read the start of each comment; masking (cheap regexes) covers all that is kept,
    # in the script the customer wrote.
    kept = [written for *_, written in read_and_written]
    prepared = [
        (t[: normalize.MAX_ANALYZED_CHARS], lang, trad, cut) for t, lang, trad, cut, _ in read_and_written
    ]

    zh_indexes = [i for i, (text, lang, _, _) in enumerate(prepared) if lang in ("zh", "mixed") and text]
    zh_texts = [prepared[i][0] for i in zh_indexes]
    zh_scores = sentiment.zh_scores(zh_texts, model_dir(), adapters.get("zh"))
    zh_scored = (context.scored_models or {}).get("zh")
    if zh_scored:
        zh_scores = scored.ScoredModel(zh_scored).rescore(zh_texts, zh_scores)
    scores: dict[int, float] = dict(zip(zh_indexes, zh_scores, strict=True))
    en_indexes = [i for i, (text, lang, _, _) in enumerate(prepared) if lang == "en" and text]
    en_prior = (context.class_priors or {}).get("en")
    reader_params = (context.word_readers or {}).get("en")
    en_reader = self_training.WordReader(reader_params) if reader_params else None
    en_results = sentiment.en_sentiments(
        [prepared[i][0] for i in en_indexes], model_dir(), adapters.get("en"), en_prior, en_reader
    )
    english: dict[int, sentiment.Sentiment] = dict(zip(en_indexes, en_results, strict=True))
    # A mixed comment's English words are read by the English model too ("The 客服 was rude").
    mixed_english = [
        (i, share, english_part)
        for i, (text, lang, _, _) in enumerate(prepared)
        if lang == "mixed"
        and (share := normalize.latin_share(text))
        and (english_part := normalize.without_han(text))
    ]
    if mixed_english:
        readings = sentiment.en_sentiments(
            [part for _, _, part in mixed_english], model_dir(), adapters.get("en"), en_prior, en_reader
        )
        for (i, share, _), reading in zip(mixed_english, readings, strict=True):
            scores[i] = (1 - share) * scores[i] + share * reading.score
    # English mentions get the model's reading of their clause, scored in one batch below.
    en_clauses: list[tuple[TopicHit, str]] = []

    out = []
    for index, (text, lang, traditional, truncated) in enumerate(prepared):
        if not text:
            out.append(TextAnalysis(lang, "neutral", 0.0, masked_text="", truncated=truncated))
            continue
        if lang in ("zh", "mixed"):
            score = scores[index]
            label = sentiment.label_of(score)
        elif lang == "en":
            score, label = english[index].score, english[index].label
        else:
            # No model reads Japanese, Korean or bare symbols; emoji and stickers still say something.
            score = math.tanh(sentiment.emoji_score(text) / 2.5)
            label = sentiment.label_of(score)
        words = segment.words(text, lang) if lang in ("zh", "en", "mixed") else []
        hits = compiled.match(text)
        if topic_model is not None:
            hits = topic_model.assign(text, words, hits, by_id)
        for hit in hits:
            if not hit.spans:
                hit.score, hit.sentiment = round(score, 3), label
                continue
            start, end = hit.spans[0]
            clause = clause_around(text, start, end)
            if lang == "en":
                en_clauses.append((hit, clause))
            else:
                reading = _zh_clause_sentiment(clause)
                hit.score, hit.sentiment = round(reading.score, 3), reading.label
        finds = pii.find(kept[index])
        masked = pii.mask(kept[index], finds)[0] if context.mask_pii else kept[index]
        out.append(
            TextAnalysis(
                language=lang,
                sentiment=label,
                sentiment_score=round(max(-1.0, min(1.0, score)), 4),
                topics=hits,
                keywords=keywords(text, words, lang),
                phrases=phrases(words, lang),
                urgency=urgency.flags(text),
                pii=sorted({f.kind for f in finds}),
                masked_text=masked,
                traditional=traditional,
                truncated=truncated,
            )
        )
    if en_clauses:
        readings = sentiment.en_sentiments(
            [clause for _, clause in en_clauses], model_dir(), adapters.get("en"), en_prior, en_reader
        )
        for (hit, _), reading in zip(en_clauses, readings, strict=True):
            hit.score, hit.sentiment = round(reading.score, 3), reading.label
    return out


__all__ = ["Context", "TextAnalysis", "analyze_texts", "configure", "default_topics", "lexicon_zh"]
