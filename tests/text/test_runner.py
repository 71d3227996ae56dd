"""In "process" mode the models live in a child process: the caller never imports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
from cxloop.kit.settings import Settings
from cxloop.text import runner
settings = Settings(text_engine="process")
[result] = runner.analyze_sync(["送餐太慢了，13812345678"], settings=settings)
# Adapting (the automatic job runs in the web process's embedded worker) stays out of the caller too.
import asyncio
comments = ["The delivery was late again", "Great food, thank you", "Is the store open on Sunday?"] * 70
mix, reader = asyncio.run(runner.adapt_english(comments, None, settings=settings))
scored = ["太慢了"] * 30 + ["很好吃"] * 30
english = ["late"] * 20 + ["great"] * 20
weights = asyncio.run(runner.train_adapter(english, [0] * 20 + [1] * 20, "en", settings=settings))
stacked = asyncio.run(runner.train_scored(scored, [0] * 30 + [1] * 30, settings=settings))
heavy = sorted(m for m in ("sklearn", "jieba", "vaderSentiment", "snownlp") if m in sys.modules)
adapted = [sorted(mix), sorted(reader["taught_by"]), bool(weights), stacked["taught_by"]]
print(json.dumps({"sentiment": result.sentiment, "masked": result.masked_text, "heavy": heavy,
                  "adapted": adapted}))
runner.shutdown()
"""


@pytest.mark.slow
def test_the_caller_stays_free_of_the_models() -> None:
    env = {**os.environ, "CXLOOP_TEXT_ENGINE": "process"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    labels = ["negative", "neutral", "positive"]
    assert out == {
        "sentiment": "negative",
        "masked": "送餐太慢了，[PHONE]",
        "heavy": [],
        "adapted": [labels, labels, True, {"negative": 30, "positive": 30}],
    }


MODEL_ONCE_SCRIPT = """
import json
from unittest import mock
from cxloop.kit.settings import Settings
from cxloop.text import runner
from cxloop.text.engine import Context
from cxloop.text.topics import TopicSpec, train_topic_model

taxonomy = (TopicSpec("lost", "Luggage > Lost", ("bag",)), TopicSpec("late", "Flight > Late", ("delay*",)))
examples = [
    ("my bag never arrived", "en", {"lost"}), ("the bag is still missing", "en", {"lost"}),
    ("where did my bag go", "en", {"lost"}), ("flight delayed four hours", "en", {"late"}),
    ("another delay again", "en", {"late"}), ("we sat at the gate, delays", "en", {"late"}),
]
params = train_topic_model(examples, ["lost", "late"], topics=taxonomy)
context = Context(topics=taxonomy, topic_model=params)
settings = Settings(text_engine="process")
sent = []
real_executor = runner._executor
class Recording:
    def __init__(self, pool):
        self.pool = pool
    def submit(self, fn, model_dir, texts, language, ctx):
        sent.append(len(ctx.topic_model))
        return self.pool.submit(fn, model_dir, texts, language, ctx)
topics = []
with mock.patch.object(runner, "_executor", lambda model_dir: Recording(real_executor(model_dir))):
    for _ in range(3):
        [result] = runner.analyze_sync(["my bag is lost"], "en", context, settings=settings)
        topics.append(result.topics[0].topic_id)
    runner.shutdown()  # a new child has no model: it is sent whole again
    [result] = runner.analyze_sync(["my bag is lost"], "en", context, settings=settings)
    topics.append(result.topics[0].topic_id)
    runner.shutdown()
    runner._sent_models.add(params["key"])  # as if the child had dropped it: named, refused, sent whole
    [result] = runner.analyze_sync(["my bag is lost"], "en", context, settings=settings)
    topics.append(result.topics[0].topic_id)
runner.shutdown()
print(json.dumps({"sizes": [s > 2 for s in sent], "topics": topics}))
"""


@pytest.mark.slow
def test_a_trained_topic_model_is_sent_to_the_child_once() -> None:
    env = {**os.environ, "CXLOOP_TEXT_ENGINE": "process"}
    done = subprocess.run(
        [sys.executable, "-c", MODEL_ONCE_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # Whole, then by key twice; after a restart whole again; a child without it is sent it whole.
    assert out == {"sizes": [True, False, False, True, False, True], "topics": ["lost"] * 5}
