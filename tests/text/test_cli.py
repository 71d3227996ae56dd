"""``cxloop text reanalyze`` and ``cxloop text adapt``."""

from __future__ import annotations

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
