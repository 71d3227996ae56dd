"""Text analytics benchmarks (issue 7): sentiment against SnowNLP and VADER in
the same run, teachable topics, PII masking, throughput.

    .venv/bin/python bench/text_quality.py            # everything
    .venv/bin/python bench/text_quality.py --only zh  # zh | en | topics | pii | speed

Reads the evaluation sets in ../shared/data/text (waimai_10k: no licence;
airline tweets: CC BY-NC-SA). They are only read here, to measure; no
shipped model is trained on them. The topic benchmark trains the tenant's
topic model on 100 labelled tweets per reason, exactly as corrections
would, and tests on the rest through the product's own ranking (the first
topic of each analysis; none = "Can't Tell"). Results go to
bench/results/text_quality.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.common import machine_info, write_results  # noqa: E402

from cxloop.text import engine, normalize, pii, self_training, sentiment  # noqa: E402
from cxloop.text.topics import TopicSpec, train_topic_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "text"
WAIMAI = DATA / "chinesenlpcorpus" / "waimai_10k.csv"
TWEETS = DATA / "twitter-airline-sentiment" / "Tweets.csv"

# <= 10 seed words per complaint reason, written from the reason's name and common sense.
REASON_SEEDS: dict[str, list[str]] = {
    "Customer Service Issue": [
        "customer service",
        "hold",
        "agent*",
        "rep",
        "call*",
        "phone",
        "service",
        "rude",
        "help",
    ],
    "Late Flight": ["late", "delay*", "on time", "waiting", "hours", "gate"],
    "Can't Tell": [],
    "Cancelled Flight": ["cancel*", "rebook*", "canceled flight*"],
    "Lost Luggage": ["lost", "bag", "bags", "luggage", "baggage", "missing"],
    "Bad Flight": ["seat*", "wifi", "entertainment", "food", "plane", "uncomfortable", "broken", "dirty"],
    "Flight Booking Problems": [
        "book*",
        "reservation",
        "website",
        "online",
        "ticket*",
        "change fee",
        "confirm*",
    ],
    "Flight Attendant Complaints": ["flight attendant*", "attendant*", "crew", "stewardess", "fa"],
    "longlines": ["line", "lines", "queue", "long line*", "security", "check-in", "counter"],
    "Damaged Luggage": ["damaged", "broken", "bag", "luggage", "suitcase", "torn", "wheel"],
}


def balanced_accuracy(truth: list[int], predicted: list[int]) -> float:
    recalls = []
    for label in set(truth):
        idx = [i for i, t in enumerate(truth) if t == label]
        recalls.append(sum(predicted[i] == label for i in idx) / len(idx))
    return sum(recalls) / len(recalls)


def per_class_f1(truth: list[str], predicted: list[str]) -> dict[str, float]:
    scores = {}
    for label in sorted(set(truth)):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores[label] = round(2 * precision * recall / (precision + recall) if precision + recall else 0.0, 4)
    return scores


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    scores = per_class_f1(truth, predicted)
    return sum(scores.values()) / len(scores)


def chinese() -> dict[str, Any]:
    rows = list(csv.DictReader(WAIMAI.open(encoding="utf-8")))
    texts = [r["review"] for r in rows]
    truth = [int(r["label"]) for r in rows]
    started = time.perf_counter()
    ours = [1 if a.sentiment_score > 0 else 0 for a in engine.analyze_texts(texts, "zh")]
    ours_seconds = time.perf_counter() - started
    from snownlp import SnowNLP

    started = time.perf_counter()
    snow = [1 if SnowNLP(t).sentiments >= 0.5 else 0 for t in texts]
    snow_seconds = time.perf_counter() - started
    return {
        "set": "waimai_10k (11,987 reviews, positive vs negative)",
        "cxloop_balanced_accuracy": round(balanced_accuracy(truth, ours), 4),
        "snownlp_balanced_accuracy": round(balanced_accuracy(truth, snow), 4),
        "cxloop_seconds": round(ours_seconds, 1),
        "snownlp_seconds": round(snow_seconds, 1),
        **_scored_adaptation(texts, truth),
    }


def _scored_adaptation(texts: list[str], truth: list[int]) -> dict[str, Any]:
    """What `cxloop text adapt` learns from a tenant's scored comments: a random half of the
    reviews stands for them (their label for NPS 0-6 / 9-10), all or 1,000 of them; the other
    half for the comments that come after, scored with and without it."""
    order = list(range(len(texts)))
    random.Random(1).shuffle(order)
    first, second = order[: len(order) // 2], order[len(order) // 2 :]
    later = [texts[i] for i in second]
    later_truth = [truth[i] for i in second]
    out: dict[str, Any] = {}

    def accuracy(context: engine.Context | None) -> float:
        analyses = engine.analyze_texts(later, "zh", context)
        return round(balanced_accuracy(later_truth, [1 if a.sentiment_score > 0 else 0 for a in analyses]), 4)

    out["other_half_unadapted_balanced_accuracy"] = accuracy(None)
    for name, scored_rows in (("1000", first[:1000]), ("half", first)):
        started = time.perf_counter()
        params = engine.train_scored_zh([texts[i] for i in scored_rows], [truth[i] for i in scored_rows])
        assert params is not None
        out[f"scored_{name}_training_seconds"] = round(time.perf_counter() - started, 1)
        context = engine.Context(topics=engine.default_topics(), scored_models={"zh": params})
        out[f"other_half_adapted_on_{name}_scored_balanced_accuracy"] = accuracy(context)
        out[f"scored_{name}_fuse"] = params["fuse"]
    return out


def _adapted_context(texts: list[str]) -> tuple[engine.Context, Any, Any]:
    """The context `cxloop text adapt` would store for a tenant with these English comments."""
    prior, reader = self_training.english_adaptation([normalize.clean(t) for t in texts], engine.model_dir())
    assert prior is not None and reader is not None
    context = engine.Context(
        topics=engine.default_topics(), class_priors={"en": prior}, word_readers={"en": reader}
    )
    return context, prior, reader["taught_by"]


def english() -> dict[str, Any]:
    rows = list(csv.DictReader(TWEETS.open(encoding="utf-8")))
    texts = [r["text"] for r in rows]
    truth = [r["airline_sentiment"] for r in rows]
    ours = [a.sentiment for a in engine.analyze_texts(texts, "en")]
    # What `cxloop text adapt` does with a tenant's comments, from their text alone
    # (no label is read): once over all the tweets, and once over a random half,
    # scoring the other half (comments that arrive after the adaptation).
    context, prior, taught_by = _adapted_context(texts)
    adapted = [a.sentiment for a in engine.analyze_texts(texts, "en", context)]
    order = list(range(len(texts)))
    random.Random(1).shuffle(order)
    first, second = order[: len(order) // 2], order[len(order) // 2 :]
    half_context, _, _ = _adapted_context([texts[i] for i in first])
    later = [texts[i] for i in second]
    later_truth = [truth[i] for i in second]
    later_plain = [a.sentiment for a in engine.analyze_texts(later, "en")]
    later_adapted = [a.sentiment for a in engine.analyze_texts(later, "en", half_context)]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    plain = SentimentIntensityAnalyzer()

    def vader_label(compound: float) -> str:
        return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"

    vader = [vader_label(plain.polarity_scores(t)["compound"]) for t in texts]
    return {
        "set": "Twitter US airline sentiment (14,640 tweets, 3 classes)",
        "cxloop_macro_f1": round(macro_f1(truth, ours), 4),
        "cxloop_adapted_macro_f1": round(macro_f1(truth, adapted), 4),
        "other_half_unadapted_macro_f1": round(macro_f1(later_truth, later_plain), 4),
        "other_half_adapted_on_first_half_macro_f1": round(macro_f1(later_truth, later_adapted), 4),
        "estimated_class_mix": prior,
        "word_model_taught_by": taught_by,
        "true_class_mix": {k: round(v / len(truth), 4) for k, v in sorted(Counter(truth).items())},
        "vader_macro_f1": round(macro_f1(truth, vader), 4),
        "vader_thresholds": "standard +-0.05",
    }


def topics(seed: int = 7) -> dict[str, Any]:
    rows = [r for r in csv.DictReader(TWEETS.open(encoding="utf-8")) if r["negativereason"]]
    by_reason: dict[str, list[str]] = {}
    for r in rows:
        by_reason.setdefault(r["negativereason"], []).append(r["text"])
    rng = random.Random(seed)
    train: list[tuple[str, str, set[str]]] = []
    test: list[tuple[str, str]] = []
    for reason, given in sorted(by_reason.items()):
        texts = given[:]
        rng.shuffle(texts)
        # 100 per reason; Damaged Luggage has only 74, so it keeps half of them for testing.
        take = min(100, len(texts) // 2)
        train += [(t, "en", {reason}) for t in texts[:take]]
        test += [(t, reason) for t in texts[take:]]
    specs = tuple(TopicSpec(reason, reason, tuple(words)) for reason, words in REASON_SEEDS.items())
    started = time.perf_counter()
    params = train_topic_model(train, list(REASON_SEEDS), topics=specs)
    train_seconds = time.perf_counter() - started
    context = engine.Context(topics=specs, topic_model=params)
    engine.analyze_texts([t for t, _ in test[:50]], "en", context)  # models loaded before timing
    cpu = time.process_time()
    results = engine.analyze_texts([t for t, _ in test], "en", context)
    cpu = time.process_time() - cpu
    # One reason per tweet, as the product ranks them: its likeliest topic (rule hits carry the
    # model's probability); a tweet with no topic at all is "Can't Tell".
    predicted = [result.topics[0].topic_id if result.topics else "Can't Tell" for result in results]
    truth = [reason for _, reason in test]
    return {
        "set": "airline negative tweets, 10 complaint reasons",
        "train_examples": len(train),
        "test_examples": len(test),
        "macro_f1": round(macro_f1(truth, predicted), 4),
        "accuracy": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth), 4),
        "f1_per_reason": per_class_f1(truth, predicted),
        "predicted_per_reason": dict(Counter(predicted)),
        "per_reason_test": dict(Counter(truth)),
        "train_seconds": round(train_seconds, 1),
        "model_weights": sum(len(m["w"]) for m in params["topics"].values()),
        "model_json_bytes": len(json.dumps(params)),
        "comments_per_cpu_second_with_model": round(len(test) / cpu),
    }


def _luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if pii.luhn_valid(prefix + d))


def _id_number(rng: random.Random) -> str:
    area = rng.choice(["110105", "310104", "440106", "510107", "320102"])
    body = (
        area
        + f"{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 999):03d}"
    )
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _tw_id(rng: random.Random) -> str:
    letter = rng.choice("ABCDEFGHJKLMNPQRSTUVXYWZIO")
    code = 10 + "ABCDEFGHJKLMNPQRSTUVXYWZIO".index(letter)
    body = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(7))
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(body, range(8, 0, -1), strict=True))
    return letter + body + str((10 - total % 10) % 10)


def _hk_id(rng: random.Random) -> str:
    letter = rng.choice("ABCDEGHKMPRVYZ")
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    total = (
        36 * 9
        + (ord(letter) - 55) * 8
        + sum(int(d) * w for d, w in zip(digits, range(7, 1, -1), strict=True))
    )
    check = (11 - total % 11) % 11
    return f"{letter}{digits}({'A' if check == 10 else check})"


def _tw_hk_recall(rng: random.Random, count: int) -> float:
    """Taiwan and Hong Kong phones and ID numbers in Traditional Chinese comments."""
    templates = ["我的電話是{}，請盡快聯絡", "身分證字號{}，包裹一直沒到", "有問題請打{}", "麻煩回電{}，謝謝"]

    def tw_mobile() -> str:
        n = "09" + "".join(rng.choice("0123456789") for _ in range(8))
        return rng.choice(
            [n, f"{n[:4]}-{n[4:7]}-{n[7:]}", f"{n[:4]} {n[4:7]} {n[7:]}", f"+886 {n[1:4]} {n[4:7]} {n[7:]}"]
        )

    def hk_phone() -> str:
        n = rng.choice("5689") + "".join(rng.choice("0123456789") for _ in range(7))
        return rng.choice([f"+852 {n[:4]} {n[4:]}", f"+852{n}"])

    makers = [tw_mobile, hk_phone, lambda: _tw_id(rng), lambda: _hk_id(rng)]
    found = 0
    for _ in range(count):
        value = rng.choice(makers)()
        masked, _ = pii.mask(normalize.clean(rng.choice(templates).format(value)))
        found += value not in masked and not any(ch.isdigit() for ch in masked)
    return round(found / count, 4)


def pii_set(count: int = 2000, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    templates = [
        "我的电话是{}，请尽快联系",
        "有问题打{}",
        "身份证号{}，快递一直没到",
        "退款请打到卡号{}",
        "联系我{}谢谢",
        "{} 这是我的号码",
        "客服说让我提供{}",
        "麻烦回电{}，急！",
        "Call me at {} please",
        "my card {} was charged twice",
    ]

    def mobile() -> str:
        n = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        return rng.choice(
            [
                n,
                f"{n[:3]} {n[3:7]} {n[7:]}",
                f"{n[:3]}-{n[3:7]}-{n[7:]}",
                "+86 " + n,
                "+86-" + n,
                "(+86)" + n,
                f"{n[:3]}.{n[3:7]}.{n[7:]}",
            ]
        )

    def landline() -> str:
        area = rng.choice(["010", "021", "0755", "020", "0571"])
        local = rng.choice("2345678") + "".join(
            rng.choice("0123456789") for _ in range(7 if len(area) == 3 else 6)
        )
        spaced = f"{local[:-4]} {local[-4:]}"
        return rng.choice(
            [
                f"{area}-{local}",
                f"{area}{local}",
                f"({area}){local}",
                f"{area} {spaced}",
                f"+86 {area[1:]} {spaced}",
                f"{area}-{local}-{rng.randint(1, 999)}",
            ]
        )

    def id_number() -> str:
        number = _id_number(rng)
        return rng.choice([number, number, f"{number[:6]} {number[6:14]} {number[14:]}"])

    def card() -> str:
        digits = _luhn_complete(
            rng.choice(["622202", "621700", "622848", "4367"])
            + "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 12])))
        )
        return rng.choice([digits, " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))])

    makers = {"mobile": mobile, "landline": landline, "id_card": id_number, "bank_card": card}
    found = 0
    total = 0
    misses: list[str] = []
    for _ in range(count):
        kind = rng.choice(list(makers))
        value = makers[kind]()
        text = rng.choice(templates).format(value)
        masked, _ = pii.mask(normalize.clean(text))
        total += 1
        if value not in masked and not any(ch.isdigit() for ch in masked.replace("12315", "")):
            found += 1
        elif len(misses) < 10:
            misses.append(text)
    clean_rows = [r["review"] for r in csv.DictReader(WAIMAI.open(encoding="utf-8"))]
    clean_rows += [r["text"] for r in csv.DictReader(TWEETS.open(encoding="utf-8"))]
    # Real comments without personal data (ones that have an @handle are tweets, not emails).
    altered = 0
    examples: list[str] = []
    for text in clean_rows:
        cleaned = normalize.clean(text)
        masked, finds = pii.mask(cleaned)
        if finds:
            altered += 1
            if len(examples) < 10:
                examples.append(masked[:120])
    # Clean comments that carry order, tracking or ticket numbers: a tenth of random digit runs
    # pass Luhn, so only the label in front of them keeps them from being masked as cards.
    reference_templates = [
        "订单号{}还没到",
        "订单号：{}，麻烦查一下",
        "快递单号 {} 三天没更新了",
        "工单号{}一直没人处理",
        "order #{} never arrived",
        "Tracking number {} shows no movement",
        "ticket {} is still open",
    ]
    referenced_altered = 0
    referenced = 0
    for _ in range(count):
        number = "".join(rng.choice("0123456789") for _ in range(rng.choice([13, 16, 18, 19])))
        text = rng.choice(reference_templates).format(rng.choice("123456789") + number[1:])
        referenced += 1
        if pii.mask(normalize.clean(text))[1]:
            referenced_altered += 1
    return {
        "recall_taiwan_hong_kong": _tw_hk_recall(random.Random(seed + 1), count // 4),
        "generated": total,
        "recall": round(found / total, 4),
        "clean_with_reference_numbers": referenced,
        "clean_with_reference_numbers_altered_share": round(referenced_altered / referenced, 4),
        "misses": misses,
        "clean_comments": len(clean_rows),
        "clean_altered_share": round(altered / len(clean_rows), 4),
        "altered_examples": examples,
    }


def speed() -> dict[str, Any]:
    zh = [r["review"] for r in csv.DictReader(WAIMAI.open(encoding="utf-8"))][:4000]
    en = [r["text"] for r in csv.DictReader(TWEETS.open(encoding="utf-8"))][:4000]
    engine.analyze_texts(zh[:50] + en[:50])  # models loaded before timing
    out = {}
    adapted, _, _ = _adapted_context(en)
    rows = list(csv.DictReader(WAIMAI.open(encoding="utf-8")))[-2000:]  # not the timed ones
    scored_zh = engine.train_scored_zh([r["review"] for r in rows], [int(r["label"]) for r in rows])
    zh_adapted = engine.Context(topics=engine.default_topics(), scored_models={"zh": scored_zh or {}})
    runs = (("zh", zh, None), ("zh_adapted", zh, zh_adapted), ("en", en, None), ("en_adapted", en, adapted))
    for name, texts, context in runs:
        started = time.process_time()
        for i in range(0, len(texts), 200):
            engine.analyze_texts(texts[i : i + 200], context=context)
        out[f"{name}_comments_per_cpu_second"] = round(len(texts) / (time.process_time() - started))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["zh", "en", "topics", "pii", "speed"])
    parser.add_argument(
        "--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "cxloop-bench-text-models"
    )
    args = parser.parse_args()
    if not WAIMAI.exists():
        sys.exit(f"{WAIMAI} not found: the evaluation sets live in ../shared/data/text")
    engine.configure(args.model_dir)
    started = time.perf_counter()
    sentiment.zh_model(args.model_dir)
    zh_ready = time.perf_counter() - started
    sentiment.en_model(args.model_dir)
    results: dict[str, Any] = {
        **machine_info(),
        "zh_model_ready_seconds": round(zh_ready, 1),
        "en_model_ready_seconds": round(time.perf_counter() - started - zh_ready, 1),
    }
    steps = {"zh": chinese, "en": english, "topics": topics, "pii": pii_set, "speed": speed}
    for name, step in steps.items():
        if args.only in (None, name):
            results[name] = step()
            print(name, results[name], flush=True)
    write_results("text_quality.json" if args.only is None else f"text_quality_{args.only}.json", results)


if __name__ == "__main__":
    main()
