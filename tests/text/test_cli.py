"""``cxloop text reanalyze`` and ``cxloop text adapt``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient

from tests.cli.conftest import Cli, cli_env
from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import publish, respond


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


def test_adapt_says_when_there_are_too_few_scored_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    respond(client, org, survey_id, {"nps": 2, "why": "太慢"})
    env = cli_env(database_url, tmp_path / "cli-data")
    env["CXLOOP_TEXT_MODEL_DIR"] = os.environ["CXLOOP_TEXT_MODEL_DIR"]
    result = Cli(env).ok("text", "adapt")
    assert result.stdout == "zh: too few scored comments\n"
    assert rows(database_url, "SELECT count(*) FROM text_models") == [(0,)]


ENGLISH_COMMENTS = [
    "The delivery was late again",
    "Nobody answered the phone for an hour",
    "Still waiting for the refund you promised",
    "The app logs me out every time",
    "Great food, thank you",
]


def _english_responses(client: TestClient, org: Org, survey_id: str, count: int) -> list[str]:
    items = [
        {"answers": {"why": ENGLISH_COMMENTS[i % len(ENGLISH_COMMENTS)]}, "unit_code": "SH001"}
        for i in range(count)
    ]
    stored = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("cx")
    )
    assert stored.status_code == 200, stored.text
    return [item["answers"]["why"] for item in items]


def test_adapt_estimates_the_class_mix_of_the_english_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    from cxloop.text import engine
    from cxloop.text.sentiment import estimate_en_prior

    survey_id = publish(client, org)
    texts = _english_responses(client, org, survey_id, 200)
    env = cli_env(database_url, tmp_path / "cli-data")
    env["CXLOOP_TEXT_MODEL_DIR"] = os.environ["CXLOOP_TEXT_MODEL_DIR"]
    result = Cli(env).ok("text", "adapt")

    engine.configure(Path(os.environ["CXLOOP_TEXT_MODEL_DIR"]))
    expected = estimate_en_prior(texts, engine.model_dir())
    assert expected is not None and expected["negative"] > 0.5
    shares = ", ".join(f"{label} {share:.2f}" for label, share in expected.items())
    assert result.stdout == (
        "no scored comments yet\n"
        f"en: class mix of 200 comments: {shares}\n"
        "new comments use it now; `cxloop text reanalyze` applies it to the past ones\n"
    )
    query = "SELECT params, examples FROM text_models WHERE kind = 'prior-en'"
    [(params, examples)] = rows(database_url, query)
    assert (json.loads(params) if isinstance(params, str) else params) == expected
    assert examples == 200
    # The pipeline reads the stored mix for every new comment.
    seat = respond(client, org, survey_id, {"why": "They moved my seat"})
    assert rows(database_url, f"SELECT sentiment FROM comment_analyses WHERE response_id = '{seat}'") == [
        ("negative",)
    ]


def test_adapt_leaves_the_class_mix_alone_below_200_comments(
    client: TestClient, org: Org, database_url: str, tmp_path: Path
) -> None:
    survey_id = publish(client, org)
    _english_responses(client, org, survey_id, 199)
    env = cli_env(database_url, tmp_path / "cli-data")
    env["CXLOOP_TEXT_MODEL_DIR"] = os.environ["CXLOOP_TEXT_MODEL_DIR"]
    result = Cli(env).ok("text", "adapt")
    assert result.stdout == (
        "no scored comments yet\nen: 199 comments, too few to estimate the class mix (needs 200)\n"
    )
    assert rows(database_url, "SELECT count(*) FROM text_models") == [(0,)]
