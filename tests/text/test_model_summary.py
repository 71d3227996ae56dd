"""The short account ``GET /api/v1/text/models`` gives of each kind of stored model."""

from __future__ import annotations

from cxloop.text.model_summary import summary


def test_word_weights_show_their_strongest_words_each_way() -> None:
    weights = {f"w{i}": i - 12.0 for i in range(25)} | {"zero": 0.0}
    assert summary("sentiment-en", weights) == {
        "words": 26,
        "most_negative": [f"w{i}" for i in range(10)],
        "most_positive": [f"w{i}" for i in range(24, 14, -1)],
    }


def test_few_words_are_not_listed_on_the_wrong_side() -> None:
    assert summary("sentiment-en", {"late": -1.0, "fine": 0.5}) == {
        "words": 2,
        "most_negative": ["late"],
        "most_positive": ["fine"],
    }


def test_punctuation_is_not_listed_among_the_strongest_terms() -> None:
    weights = {"。": -3.0, "！！": 2.5, " ": 2.0, "太慢": -1.0, "好吃！": 1.0}
    params = {"terms": weights, "intercept": 0.0, "fuse": [1.0, 0.5, 0.0], "taught_by": {"0": 30, "1": 30}}
    got = summary("scored-zh", params)
    assert (got["terms"], got["most_negative"], got["most_positive"]) == (5, ["太慢"], ["好吃！"])


def test_the_topic_model_shows_how_many_examples_taught_each_topic() -> None:
    params = {"topics": {"late": {"b": 0.1, "w": {"delay": 1.0}, "n": 12}}, "examples": 40, "key": "k"}
    assert summary("topics", params) == {"examples": 40, "topics": {"late": 12}}


def test_an_unknown_kind_or_shape_shows_nothing() -> None:
    assert summary("something-new", {"a": 1}) == {}
    assert summary("scored-zh", ["not", "a", "dict"]) == {}
    assert summary("scored-zh", {"terms": {}}) == {}  # no fusion weights
    assert summary("sentiment-zh", {"慢": "heavy"}) == {}
