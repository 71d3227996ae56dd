"""The pure analysis: language, sentiment, topics with their reasons, keywords, urgency, bad input."""

from __future__ import annotations

import time

from cxloop.text import analyze_texts
from cxloop.text.engine import Context, default_topics
from cxloop.text.normalize import MAX_KEPT_CHARS, clean, detect_language, to_simplified


def test_language_is_told_by_script() -> None:
    assert detect_language("送餐很快") == "zh"
    assert detect_language("Great service") == "en"
    assert detect_language("这个 app login 总是 fail again and again") == "mixed"
    assert detect_language("App很好用") == "zh"
    assert detect_language("😀 123 !!!") == "und"
    assert detect_language("店員の態度が悪かった") == "ja"
    assert detect_language("好吃の店，好喝の茶") == "zh"
    assert detect_language("서비스가 너무 나빠요") == "ko"


def test_japanese_and_korean_are_not_read_by_the_chinese_models() -> None:
    japanese, korean = analyze_texts(["サービスがとても悪いです", "서비스가 너무 나빠요"])
    assert (japanese.language, japanese.sentiment, japanese.sentiment_score, japanese.topics) == (
        "ja",
        "neutral",
        0.0,
        [],
    )
    assert (korean.language, korean.sentiment, korean.sentiment_score, korean.keywords) == (
        "ko",
        "neutral",
        0.0,
        [],
    )


def test_a_comment_of_emoji_alone_has_their_sentiment() -> None:
    thumbs, angry, digits = analyze_texts(["👍👍👍", "😡😡", "12345"])
    assert (thumbs.language, thumbs.sentiment) == ("und", "positive")
    assert (angry.language, angry.sentiment) == ("und", "negative")
    assert (digits.sentiment, digits.sentiment_score) == ("neutral", 0.0)


def test_the_english_words_of_a_mixed_comment_are_read_by_the_english_model() -> None:
    rude, quick = analyze_texts(["The 客服 was rude", "Delivery 很快, great job"])
    assert (rude.language, rude.sentiment) == ("mixed", "negative")
    assert (quick.language, quick.sentiment) == ("mixed", "positive")


def test_traditional_is_folded_to_simplified() -> None:
    assert to_simplified("服務態度很好，東西好吃") == "服务态度很好，东西好吃"
    [result] = analyze_texts(["服務態度很差，東西難吃"])
    assert result.traditional is True
    assert result.sentiment == "negative"
    assert [h.path for h in result.topics] == ["Service > Staff attitude", "Product > Taste"]


def test_sentiment_in_both_languages_with_negation_and_contrast() -> None:
    results = analyze_texts(
        [
            "客服态度很好，非常满意！",
            "送了两个小时，饭都凉了",
            "味道不错，但是送餐太慢了",
            "不好吃",
            "The staff were friendly and the food was delicious",
            "Flight delayed 3 hours, still on hold with customer service",
            "What time does the store open?",
        ]
    )
    assert [r.sentiment for r in results] == [
        "positive",
        "negative",
        "negative",
        "negative",
        "positive",
        "negative",
        "neutral",
    ]
    assert all(-1.0 <= r.sentiment_score <= 1.0 for r in results)


def test_every_topic_says_why_and_carries_its_own_sentiment() -> None:
    [result] = analyze_texts(["味道很好吃，就是配送太慢了"])
    hits = {h.path: h for h in result.topics}
    assert set(hits) == {"Product > Taste", "Delivery > Speed"}
    assert hits["Product > Taste"].matched == ["味道", "好吃"]
    assert hits["Product > Taste"].sentiment == "positive"
    assert hits["Delivery > Speed"].matched == ["太慢", "配送"]
    assert hits["Delivery > Speed"].sentiment == "negative"
    assert {h.source for h in result.topics} == {"rule"}


def test_rules_skip_a_mention_that_says_the_topic_is_not_the_issue() -> None:
    [result] = analyze_texts(["价格不是问题，就是太慢"])
    assert [h.path for h in result.topics] == ["Delivery > Speed"]
    [english] = analyze_texts(["No problem with the price, but delivery was late"])
    assert [h.path for h in english.topics] == ["Delivery > Speed"]


def test_a_learned_model_assigns_with_its_confidence_and_words() -> None:
    from cxloop.text.topics import train_topic_model

    topics = (*default_topics(), *())
    examples = [(f"the seat {i} was cramped and tight", "en", {"product.quality"}) for i in range(5)]
    examples += [(f"lovely crew number {i}", "en", set()) for i in range(5)]
    params = train_topic_model(examples, ["product.quality"])
    [result] = analyze_texts(["my seat was so cramped"], context=Context(topics=topics, topic_model=params))
    [hit] = [h for h in result.topics if h.source == "model"]
    assert hit.topic_id == "product.quality"
    assert 0.5 <= hit.confidence <= 1.0
    assert "cramped" in hit.matched


def test_keywords_phrases_and_urgency() -> None:
    [zh, en] = analyze_texts(
        [
            "菜里有异物，吃完拉肚子，我要打12315投诉并找媒体曝光",
            "Food poisoning again. I will sue and cancel my account.",
        ]
    )
    assert zh.urgency == ["regulator", "media", "safety"]
    assert en.urgency == ["legal", "churn", "safety"]
    assert "异物" in zh.keywords
    assert "food poisoning" in en.phrases


def test_bad_input_costs_nothing_and_breaks_nothing() -> None:
    huge = "很好" * 50_000
    started = time.perf_counter()
    results = analyze_texts(
        [
            "",
            "   \n\t",
            huge,
            "😀😀😀🔥",
            "<p>服务<b>很好</b></p><script>alert(1)</script>",
            "a\x00b",
            "中文English混合mixed文本",
        ]
    )
    assert time.perf_counter() - started < 2.0
    assert [r.sentiment for r in results[:2]] == ["neutral", "neutral"]
    assert results[0].language == "und" and results[0].topics == [] and results[0].masked_text == ""
    assert results[2].truncated is True and len(results[2].masked_text) == MAX_KEPT_CHARS
    assert results[4].masked_text == "服务很好"
    assert results[4].sentiment == "positive"
    assert clean("a\x00b") == "ab"


def test_the_language_can_be_given() -> None:
    [result] = analyze_texts(["ok"], language="en")
    assert result.language == "en"


def test_full_width_digits_are_read_and_chinese_punctuation_kept() -> None:
    [result] = analyze_texts(["电话：１３８１２３４５６７８，谢谢"])
    assert result.masked_text == "电话：[PHONE]，谢谢"


def test_a_tenants_weak_labels_shift_its_sentiment() -> None:
    from cxloop.text.sentiment import train_adapter

    texts = [f"第{i}次点排骨饭" for i in range(20)] + [f"第{i}次点鸡腿饭" for i in range(20)]
    labels = [0] * 20 + [1] * 20
    weights = train_adapter(texts, labels, "zh")
    assert weights["排骨饭"] < 0 < weights["鸡腿饭"]
    [plain] = analyze_texts(["又点了排骨饭"])
    [adapted] = analyze_texts(
        ["又点了排骨饭"], context=Context(topics=default_topics(), adapters={"zh": weights})
    )
    assert adapted.sentiment_score < plain.sentiment_score


def test_a_tenants_scored_comments_teach_a_model_stacked_on_the_shipped_one() -> None:
    from cxloop.text.engine import train_scored_zh

    texts = [f"第{i}次点排骨饭" for i in range(30)] + [f"第{i}次点鸡腿饭" for i in range(30)]
    params = train_scored_zh(texts, [0] * 30 + [1] * 30)
    assert params is not None
    assert params["taught_by"] == {"negative": 30, "positive": 30}
    assert params["terms"]["排骨饭"] < 0 < params["terms"]["鸡腿饭"]
    assert len(params["fuse"]) == 3 and params["fuse"][1] > 0  # it trusts what it learned
    [plain] = analyze_texts(["又点了排骨饭"])
    [adapted] = analyze_texts(
        ["又点了排骨饭"], context=Context(topics=default_topics(), scored_models={"zh": params})
    )
    assert adapted.sentiment_score < plain.sentiment_score
    assert adapted.sentiment == "negative"


def test_a_scored_model_reads_traditional_chinese_as_it_reads_simplified() -> None:
    from cxloop.text.engine import train_scored_zh

    texts = [f"第{i}次點排骨飯" for i in range(30)] + [f"第{i}次點雞腿飯" for i in range(30)]
    params = train_scored_zh(texts, [0] * 30 + [1] * 30)
    assert params is not None
    assert "排骨饭" in params["terms"] and "排骨飯" not in params["terms"]


def test_no_scored_model_is_trained_from_fewer_than_25_comments_in_a_class() -> None:
    from cxloop.text.engine import train_scored_zh

    texts = [f"第{i}次点排骨饭" for i in range(24)] + [f"第{i}次点鸡腿饭" for i in range(100)]
    assert train_scored_zh(texts, [0] * 24 + [1] * 100) is None


def test_no_scored_model_is_trained_from_comments_with_no_text() -> None:
    from cxloop.text.engine import train_scored_zh

    assert train_scored_zh([""] * 60, [0] * 30 + [1] * 30) is None


def test_english_neutral_is_learned_from_rated_sentences() -> None:
    from cxloop.text.resources import vader_ground_truth

    rows = vader_ground_truth()
    assert len(rows) == 23_703
    assert {name for name, _, _ in rows} == {"tweets", "amazon", "movies", "nyt"}
    assert all(-4.0 <= rating <= 4.0 and text for _, rating, text in rows)
    results = analyze_texts(
        [
            "Do you deliver on Sundays?",
            "My order number is 4471",
            "Still no refund after two weeks, nobody answers",
            "Thanks, the agent sorted it out in minutes",
        ],
        language="en",
    )
    assert [r.sentiment for r in results] == ["neutral", "neutral", "negative", "positive"]
    assert results[2].sentiment_score < 0 < results[3].sentiment_score


def test_an_english_mention_gets_the_sentiment_of_its_clause() -> None:
    [result] = analyze_texts(["The food was delicious, but the delivery was two hours late."])
    hits = {h.path: h for h in result.topics}
    assert hits["Product > Taste"].sentiment == "positive"
    assert hits["Delivery > Speed"].sentiment == "negative"


def test_a_tenants_weak_labels_shift_english_sentiment_too() -> None:
    from cxloop.text.sentiment import train_adapter

    texts = [f"order {i} with the blue box" for i in range(20)] + [
        f"order {i} with the red box" for i in range(20)
    ]
    weights = train_adapter(texts, [0] * 20 + [1] * 20, "en")
    assert weights["blue"] < 0 < weights["red"]
    [plain] = analyze_texts(["another blue box"], language="en")
    [adapted] = analyze_texts(
        ["another blue box"],
        language="en",
        context=Context(topics=default_topics(), adapters={"en": weights}),
    )
    assert adapted.sentiment_score < plain.sentiment_score


def test_the_class_mix_of_a_tenants_comments_is_estimated_from_the_text_alone() -> None:
    from cxloop.text.engine import model_dir
    from cxloop.text.sentiment import EN_PRIOR_MIN_COMMENTS, en_class_mix, en_log_probabilities

    complaints = [
        "The delivery was late again",
        "Nobody answered the phone for an hour",
        "My bag never arrived and the desk was closed",
        "Still waiting for the refund you promised",
    ]
    comments = complaints * 45 + ["Thanks, the driver was lovely"] * 20
    mix = en_class_mix(en_log_probabilities(comments, model_dir()))
    assert mix is not None
    assert list(mix) == ["negative", "neutral", "positive"]
    assert abs(sum(mix.values()) - 1) < 1e-3
    assert mix["negative"] > 0.7 > 0.1 > mix["positive"] > 0
    assert en_class_mix(en_log_probabilities(comments[: EN_PRIOR_MIN_COMMENTS - 1], model_dir())) is None


def test_a_tenants_class_mix_moves_the_reading_of_an_unclear_comment() -> None:
    text = "my seat was moved"
    [plain] = analyze_texts([text], language="en")
    assert plain.sentiment == "neutral"
    mostly_complaints = {"negative": 0.9, "neutral": 0.05, "positive": 0.05}
    [adapted] = analyze_texts(
        [text],
        language="en",
        context=Context(topics=default_topics(), class_priors={"en": mostly_complaints}),
    )
    assert adapted.sentiment_score < plain.sentiment_score
    assert adapted.sentiment == "negative"


def test_a_word_model_taught_by_the_shipped_models_sure_readings_reads_the_tenants_own_words() -> None:
    import numpy as np

    from cxloop.text import self_training

    # "gate b" comes with complaints the shipped model is sure of, so the tenant's word model learns it.
    comments = (
        ["Gate B was chaos and the delivery was late again"] * 30
        + ["Nobody answered the phone at gate B"] * 30
        + ["Great food, thank you"] * 20
        + ["Is the store open on Sunday?"] * 20
    )
    sure = {"negative": [0.0, -9.0, -9.0], "positive": [-9.0, -9.0, 0.0], "neutral": [-9.0, 0.0, -9.0]}
    labels = ["negative"] * 60 + ["positive"] * 20 + ["neutral"] * 20
    log_p = np.asarray([sure[label] for label in labels])
    params = self_training.train(comments, log_p)
    assert params is not None
    assert params["taught_by"] == {"negative": 60, "neutral": 20, "positive": 20}
    assert params["terms"]["gate b"][0] > 0 > params["terms"]["gate b"][2]
    reader = self_training.WordReader(params)
    text = "Went to gate B"
    [plain] = analyze_texts([text], language="en")
    [adapted] = analyze_texts(
        [text], language="en", context=Context(topics=default_topics(), word_readers={"en": params})
    )
    assert adapted.sentiment_score < plain.sentiment_score
    assert reader.log_probabilities([""]).shape == (1, 3)
    # Too few sure comments of one class: nothing is taught.
    unsure = log_p.copy()
    unsure[80:] = np.log([0.4, 0.3, 0.3])
    assert self_training.train(comments, unsure) is None


def test_more_ways_of_threatening_regulators_media_courts_and_leaving_are_flagged() -> None:
    texts = [
        "向银保监会投诉",
        "我要向消基會申訴",
        "我会发小红书让大家都知道",
        "再不处理我就报警",
        "I am contacting the news about this",
        "never flying with you again",
        "吃出了玻璃碴",
        "I got sick after the meal",
        "good news, the bag arrived",
        "today the app is fine",
    ]
    assert [r.urgency for r in analyze_texts(texts)] == [
        ["regulator"],
        ["regulator"],
        ["media"],
        ["legal"],
        ["media"],
        ["churn"],
        ["safety"],
        ["safety"],
        [],
        [],
    ]


def test_a_negated_complaint_word_is_praise_and_a_negated_praise_word_a_complaint() -> None:
    # None of these is among the model's own training comments.
    texts = ["not bad for a Monday", "nothing bad to say", "it was not terrible", "not good", "not worth it"]
    assert [r.sentiment for r in analyze_texts(texts, language="en")] == [
        "positive",
        "positive",
        "positive",
        "negative",
        "negative",
    ]


def test_taiwan_usage_is_read_after_folding_to_simplified() -> None:
    brunch, revisit, letdown, crash, waiter = analyze_texts(
        ["這間早午餐大推", "下次還會再訪", "真的很雷，不推", "手機APP一直當機", "服務生很親切"]
    )
    assert [r.sentiment for r in (brunch, revisit, letdown, crash, waiter)] == [
        "positive",
        "positive",
        "negative",
        "negative",
        "positive",
    ]
    # 真的很雷，不推 is written the same in both scripts.
    assert [r.traditional for r in (brunch, revisit, letdown, crash, waiter)] == [
        True,
        True,
        False,
        True,
        True,
    ]
    assert [h.path for h in crash.topics] == ["App > Stability"]
    assert [h.path for h in waiter.topics] == ["Service > Staff attitude"]
    assert analyze_texts(["超讚"])[0].masked_text == "超讚"


def test_chinese_negation_reaches_past_degree_words_and_a_second_negator_cancels_it() -> None:
    from cxloop.text.sentiment import lexicon_score_zh

    assert lexicon_score_zh("不是很满意") < 0
    assert lexicon_score_zh("没让我失望") > 0
    assert lexicon_score_zh("没有不满意的地方") > 0
    assert lexicon_score_zh("挑不出毛病") > 0
    texts = ["不是很满意", "挑不出毛病", "没有任何问题", "不是很好吃", "服务不错"]
    assert [r.sentiment for r in analyze_texts(texts)] == [
        "negative",
        "positive",
        "positive",
        "negative",
        "positive",
    ]
