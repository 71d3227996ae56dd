"""``cxloop text reanalyze`` and ``cxloop text adapt``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cxloop.text import analyze_texts
from cxloop.text.engine import Context, default_topics
from tests.cli.conftest import Cli, cli_env
from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import chinese_scored_responses, english_responses, publish, respond


def test_reanalyze_rewrites_history_after_a_taxonomy_change(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    first = respond(client, org, survey_id, {"nps": 3, "why": "厕所没有纸"})
    respond(client, org, survey_id, {"nps": 9})
    query = f"SELECT topic_path FROM comment_topics WHERE response_id = '{first}'"
    assert rows(database_url, query) == []
    made = client.post(
        "/api/v1/text/topics",
        json={"name": {"zh-CN": "洗手间", "en": "Restrooms"}, "keywords": {"zh": ["厕所"]}},
        headers=org.auth("cx"),
    )
    assert made.status_code == 201, made.text

    env = cli_env(database_url, tmp_path / "cli-data")
    env["CXLOOP_TEXT_MODEL_DIR"] = os.environ["CXLOOP_TEXT_MODEL_DIR"]
    result = Cli(env).ok("text", "reanalyze", "--batch", "1")
    assert result.stdout.endswith("2 responses, 1 comments analysed\n")
    assert rows(database_url, query) == [("洗手间",)]
    again = Cli(env).ok("text", "reanalyze")
    assert again.stdout.endswith("2 responses, 1 comments analysed\n")
    assert rows(database_url, f"SELECT count(*) FROM comment_analyses WHERE response_id = '{first}'") == [
        (1,)
    ]


def _adapt(database_url: str, tmp_path: Path) -> Any:
    """``cxloop text adapt`` in a child process, with the test session's trained models."""
    env = cli_env(database_url, tmp_path / "cli-data")
    env["CXLOOP_TEXT_MODEL_DIR"] = os.environ["CXLOOP_TEXT_MODEL_DIR"]
    return Cli(env).ok("text", "adapt")


def test_adapt_says_when_there_are_too_few_scored_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    respond(client, org, survey_id, {"nps": 2, "why": "太慢"})
    result = _adapt(database_url, tmp_path)
    assert result.stdout == "zh: too few scored comments\n"
    # Only when it ran, so the automatic run waits for as many new comments again.
    assert rows(database_url, "SELECT kind, examples FROM text_models") == [("adapted", 1)]


def test_adapt_teaches_a_chinese_model_from_the_scored_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    chinese_scored_responses(client, org, survey_id, 90)
    result = _adapt(database_url, tmp_path)
    [(params,)] = rows(database_url, "SELECT params FROM text_models WHERE kind = 'scored-zh'")
    params = json.loads(params) if isinstance(params, str) else params
    assert params["taught_by"] == {"negative": 45, "positive": 30}
    assert result.stdout == (
        f"zh: a model of {len(params['terms'])} terms, stacked on the shipped one,"
        " learned from 75 scored comments: negative 45, positive 30\n"
        "new comments use it now; `cxloop text reanalyze` applies it to the past ones\n"
    )
    assert rows(database_url, "SELECT kind, examples FROM text_models ORDER BY kind") == [
        ("adapted", 90),
        ("scored-zh", 75),
    ]


def test_adapt_estimates_the_class_mix_and_teaches_a_word_model_from_the_english_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    from cxloop.text import engine, self_training, sentiment

    survey_id = publish(client, org)
    texts = english_responses(client, org, survey_id, 210)
    result = _adapt(database_url, tmp_path)

    # The same steps in this process, from the same text, must give the same figures.
    engine.configure(Path(os.environ["CXLOOP_TEXT_MODEL_DIR"]))
    log_p = sentiment.en_log_probabilities(texts, engine.model_dir())
    mix = sentiment.en_class_mix(log_p)
    assert mix is not None and mix["negative"] > 0.5
    reader = self_training.train(texts, sentiment.with_prior(log_p, mix))
    assert reader is not None
    assert reader["taught_by"] == {"negative": 140, "neutral": 35, "positive": 35}
    shares = ", ".join(f"{label} {share:.2f}" for label, share in mix.items())
    assert result.stdout == (
        "no scored comments yet\n"
        f"en: class mix of 210 comments: {shares}\n"
        f"en: word model of {len(reader['terms'])} terms, taught by the comments it is sure of:"
        " negative 140, neutral 35, positive 35\n"
        "new comments use it now; `cxloop text reanalyze` applies it to the past ones\n"
    )
    stored = dict(rows(database_url, "SELECT kind, params FROM text_models"))
    assert set(stored) == {"adapted", "prior-en", "reader-en"}
    params = {kind: json.loads(v) if isinstance(v, str) else v for kind, v in stored.items()}
    assert params["prior-en"] == mix
    assert params["reader-en"] == reader
    assert rows(database_url, "SELECT examples FROM text_models") == [(210,), (210,), (210,)]

    # The pipeline reads both for every new comment.
    context = Context(topics=default_topics(), class_priors={"en": mix}, word_readers={"en": reader})
    [expected] = analyze_texts(["They moved my seat"], language="en", context=context)
    seat = respond(client, org, survey_id, {"why": "They moved my seat"})
    query = f"SELECT sentiment, sentiment_score FROM comment_analyses WHERE response_id = '{seat}'"
    assert rows(database_url, query) == [(expected.sentiment, expected.sentiment_score)]


def test_adapt_leaves_the_class_mix_alone_below_200_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    english_responses(client, org, survey_id, 199)
    result = _adapt(database_url, tmp_path)
    assert result.stdout == (
        "no scored comments yet\nen: 199 comments, too few to estimate the class mix (needs 200)\n"
    )
    assert rows(database_url, "SELECT kind, examples FROM text_models") == [("adapted", 199)]
