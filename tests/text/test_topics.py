"""The learned topic model: tf-idf of words and character n-grams plus the rules as features,
hits ranked by the model's probability, and the product path from corrections to new comments."""

from __future__ import annotations

import json
import math

from fastapi.testclient import TestClient

from cxloop.text.engine import Context, analyze_texts
from cxloop.text.topics import TopicModel, TopicSpec, char_features, train_topic_model
from tests.collection.support import rows
from tests.factories import Org
from tests.text.support import publish, respond

TAXONOMY = (
    TopicSpec("lost", "Luggage > Lost", ("bag", "lost")),
    TopicSpec("damaged", "Luggage > Damaged", ("bag", "broken")),
    TopicSpec("late", "Flight > Late", ("delay*",)),
)
EXAMPLES = [
    ("my bag never arrived in Denver", "en", {"lost"}),
    ("the bag is still missing after three days", "en", {"lost"}),
    ("nobody can tell me where my bag went", "en", {"lost"}),
    ("lost suitcase, no call back", "en", {"lost"}),
    ("my bag came back with a broken wheel", "en", {"damaged"}),
    ("the handle of my bag was ripped off", "en", {"damaged"}),
    ("suitcase arrived cracked and broken", "en", {"damaged"}),
    ("flight delayed four hours", "en", {"late"}),
    ("another delay, missed my meeting", "en", {"late"}),
    ("we sat at the gate for hours, delays again", "en", {"late"}),
]


def test_character_ngrams_are_taken_inside_each_word() -> None:
    assert char_features("Bag") == [
        "# b",
        "#ba",
        "#ag",
        "#g ",
        "# ba",
        "#bag",
        "#ag ",
        "# bag",
        "#bag ",
        "# bag ",
    ]
    assert char_features("  ") == []
    assert char_features("登机") == ["# 登", "#登机", "#机 ", "# 登机", "#登机 ", "# 登机 "]


def test_the_model_reads_the_rules_and_ranks_the_hits() -> None:
    params = train_topic_model(EXAMPLES, ["lost", "damaged", "late"], topics=TAXONOMY)
    assert params["version"] == 2 and params["examples"] == 10 and len(params["key"]) == 16
    assert set(params["topics"]) == {"lost", "damaged", "late"}
    assert params["topics"]["late"]["w"]["rule:late"] > 0
    assert "#dela" in params["idf"]["chars"]
    context = Context(topics=TAXONOMY, topic_model=params)
    [missing, broken] = analyze_texts(
        ["where is my bag, still missing", "bag arrived broken, wheel gone"], "en", context
    )
    # Both comments match the words of both luggage topics; the model says which it is.
    assert [(h.topic_id, h.source) for h in missing.topics][:2] == [("lost", "rule"), ("damaged", "rule")]
    assert missing.topics[0].confidence > 0.5 > missing.topics[1].confidence
    assert missing.topics[0].matched == ["bag"]
    assert broken.topics[0].topic_id == "damaged"
    assert sorted(h.matched[0] for h in broken.topics if h.topic_id == "damaged") == ["bag"]


def test_the_model_finds_a_topic_without_its_words_and_says_why() -> None:
    params = train_topic_model(EXAMPLES, ["lost", "damaged", "late"], topics=TAXONOMY)
    context = Context(topics=TAXONOMY, topic_model=params)
    [result] = analyze_texts(["still missing, nobody can tell me where it went"], "en", context)
    [hit] = result.topics
    assert (hit.topic_id, hit.source, hit.spans) == ("lost", "model", [])
    assert 0.5 <= hit.confidence < 1.0
    assert hit.matched[:3] == ["tell", "still", "missing"]
    # A topic no longer in the taxonomy is not assigned, whatever its weights say.
    [result] = analyze_texts(["we waited hours at the gate"], "en", context)
    assert [h.topic_id for h in result.topics] == ["late"]
    [result] = analyze_texts(
        ["we waited hours at the gate"], "en", Context(topics=TAXONOMY[:2], topic_model=params)
    )
    assert result.topics == []


def test_a_model_of_the_first_format_still_assigns() -> None:
    params = {"topics": {"product.quality": {"b": -1.0, "w": {"cramped": 3.0, "seat": -0.5}}}}
    topics = (TopicSpec("product.quality", "Product > Quality"),)
    [result] = analyze_texts(["so cramped"], "en", Context(topics=topics, topic_model=params))
    [hit] = result.topics
    assert (hit.topic_id, hit.source, hit.matched) == ("product.quality", "model", ["cramped"])
    assert hit.confidence == round(1 / (1 + math.exp(-2.0)), 3)


def test_a_stored_model_is_prepared_once() -> None:
    params = train_topic_model(EXAMPLES, ["lost", "late"], topics=TAXONOMY)
    assert TopicModel.cached(params) is TopicModel.cached(json.loads(json.dumps(params)))
    assert TopicModel.cached({"topics": {}}) is not TopicModel.cached({"topics": {}})


def test_too_few_examples_train_nothing() -> None:
    assert train_topic_model(EXAMPLES[:1], ["lost"], topics=TAXONOMY)["topics"] == {}
    # Two positives are fewer than a topic needs; an empty taxonomy gives no rule features.
    params = train_topic_model(EXAMPLES[:2] + EXAMPLES[7:], ["lost", "late"])
    assert set(params["topics"]) == {"late"}
    assert not any(f.startswith("rule:") for f in params["topics"]["late"]["w"])


def test_corrections_teach_the_model_that_new_comments_use(
    client: TestClient, org: Org, database_url: str
) -> None:
    made = client.post(
        "/api/v1/text/topics",
        json={"name": {"en": "Luggage"}, "keywords": {"en": ["bag"]}},
        headers=org.auth("cx"),
    )
    assert made.status_code == 201, made.text
    luggage = made.json()["id"]
    survey_id = publish(client, org)
    taught = {
        "my bag never arrived": True,
        "lost my suitcase on the way home": True,
        "the suitcase is still missing": True,
        "the bag was torn": True,
        "the room was cold": False,
        "nobody answered the phone": False,
        "slow check in at the desk": False,
    }
    for text, applies in taught.items():
        response_id = respond(client, org, survey_id, {"nps": 3, "why": text})
        corrected = client.post(
            f"/api/v1/text/comments/{response_id}/why/corrections",
            json={"topic_id": luggage, "applies": applies},
            headers=org.auth("cx"),
        )
        assert corrected.status_code == 201, corrected.text
    [(params, examples)] = rows(
        database_url, "SELECT params, examples FROM text_models WHERE kind = 'topics'"
    )
    params = json.loads(params) if isinstance(params, str) else params
    assert examples == 7 and params["version"] == 2
    assert params["topics"][luggage]["n"] == 4
    assert params["topics"][luggage]["w"][f"rule:{luggage}"] > 0

    new = respond(client, org, survey_id, {"nps": 2, "why": "where is my suitcase"})
    found = rows(
        database_url,
        f"SELECT topic_id, source FROM comment_topics WHERE response_id = '{new}' ORDER BY topic_id",
    )
    assert (luggage, "model") in found
