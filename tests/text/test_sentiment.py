"""Sentiment details: the English contrast tail, complaint cues, emoji in Chinese."""

from __future__ import annotations

from cxloop.text import analyze_texts
from cxloop.text.sentiment import _COMPLAINT, _en_tail, lexicon_score_zh


def test_english_reads_what_follows_the_last_but() -> None:
    assert _en_tail("Thanks for the reply, but my parcel is still missing!") == "my parcel is still missing"
    assert _en_tail("Good food but slow") is None  # one word after "but" is not a clause
    assert _en_tail("No contrast here") is None
    results = analyze_texts(
        [
            "Thanks for the quick reply, but my parcel is still missing",
            "The queue was long but the staff were lovely and sorted it out",
        ],
        language="en",
    )
    assert [r.sentiment for r in results] == ["negative", "positive"]


def test_english_complaints_that_state_facts_are_negative_and_questions_neutral() -> None:
    results = analyze_texts(
        [
            "Ordered two weeks ago and the package has still not arrived",
            "Third call today, nobody picks up",
            "Do you have a branch in the city centre?",
        ],
        language="en",
    )
    assert [r.sentiment for r in results] == ["negative", "negative", "neutral"]


def test_complaint_cues_match_whole_words_and_prefixes() -> None:
    found = _COMPLAINT.findall("Delayed AGAIN, waited 3 hours; still no one at the desk. Holder stillness")
    assert [f.lower() for f in found] == ["delayed", "again", "waited", "hours", "still", "no one"]


def test_chinese_emoji_and_stickers_count() -> None:
    assert lexicon_score_zh("👍") == 2.0
    assert lexicon_score_zh("[怒]") == -2.2
    assert lexicon_score_zh("😡😡") == -2.5  # once per comment, like a phrase
    assert lexicon_score_zh("ok") == 0.0
    results = analyze_texts(["到了 👍👍", "到了 🤮"], language="zh")
    assert [r.sentiment for r in results] == ["positive", "negative"]
