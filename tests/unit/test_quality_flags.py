"""The automatic flags, rule by rule: what each one catches, and what it leaves alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from distillset.quality.flags import (
    FlagContext,
    LengthStats,
    is_refusal,
    leaked_reasoning,
    length_outlier,
    record_flags,
    restates_question,
    truncation,
)
from distillset.quality.language import detect_language

LONG_ENGLISH = (
    "A warm-up raises the muscle temperature and the heart rate gradually, which lowers the "
    "risk of strains and lets the athlete reach full speed sooner in the session."
)


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "I cannot assist with this question.",
        "As an AI language model, I cannot give medical advice.",
        "I must decline to answer.",
        "抱歉，我无法回答这个问题。",
        "作为一个人工智能，我不能提供这些信息。",
    ],
)
def test_refusals_are_flagged(answer: str) -> None:
    assert is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        LONG_ENGLISH,
        "Sorry to disappoint: a volley is simply a shot before the bounce.",
        # Saying "I cannot" late in a long answer is not declining to answer.
        LONG_ENGLISH * 3 + " I cannot stress enough how useful it is.",
    ],
)
def test_answers_are_not_refusals(answer: str) -> None:
    assert not is_refusal(answer)


def test_reasoning_leaks_by_tag_or_by_thinking_aloud() -> None:
    assert leaked_reasoning("<think>pace</think> Start slowly.") is not None
    assert leaked_reasoning("Start slowly.\n</thinking>") is not None
    assert leaked_reasoning("Okay, so the user wants to know about pacing.") is not None
    assert leaked_reasoning("嗯，用户问的是配速。") is not None
    assert leaked_reasoning(LONG_ENGLISH) is None
    assert leaked_reasoning("Think about pacing: start slowly.") is None


@pytest.mark.parametrize(
    ("answer", "finish_reason"),
    [
        ("Anything at all.", "length"),
        ("Here is the code:\n```python\nprint(1)", None),
        ("Runners taper before a race because", None),
        ("The main reasons are speed, endurance and", None),
        ("Start with ten minutes of jogging,", None),
        (LONG_ENGLISH.rstrip(".") + " while the coach watches the form of every athlete", None),
    ],
)
def test_truncated_answers_are_flagged(answer: str, finish_reason: str | None) -> None:
    assert truncation(answer, finish_reason) is not None


@pytest.mark.parametrize(
    "answer",
    [
        LONG_ENGLISH,
        "The answer is 42",
        "- jog\n- stretch\n- sprint",
        "```python\nprint(1)\n```",
        "热身可以降低受伤的风险",
        "| a | b |\n|---|---|\n| 1 | 2 |",
    ],
)
def test_complete_answers_are_not_truncated(answer: str) -> None:
    assert truncation(answer, "stop") is None


def test_an_answer_that_restates_the_question_is_flagged() -> None:
    assert restates_question("What is interval training?", "What is interval training?")
    assert restates_question("Why do runners taper?", "Runners taper.")
    assert not restates_question("What is interval training?", LONG_ENGLISH)
    assert not restates_question("What is a volley?", "A shot hit before the ball bounces.")


def test_length_outliers_use_the_tags_median_and_spread() -> None:
    stats = LengthStats(median=200, mad=20, count=10)
    assert length_outlier(210, stats) is None
    assert "longer" in (length_outlier(400, stats) or "")
    assert "shorter" in (length_outlier(20, stats) or "")
    # Too few records in the tag, or no spread at all: nothing to compare with.
    assert length_outlier(400, LengthStats(median=200, mad=20, count=5)) is None
    assert length_outlier(400, LengthStats(median=200, mad=0, count=10)) is None


def test_language_is_named_only_when_the_text_says_enough() -> None:
    assert detect_language(LONG_ENGLISH) == "en"
    assert detect_language("热身可以提高肌肉温度，逐渐提高心率，从而降低拉伤的风险。") == "zh"
    german = "Der Läufer sollte das Tempo am Anfang niedrig halten und gleichmäßig laufen."
    assert detect_language(german) == "de"
    assert detect_language("OK.") is None
    # Code says nothing about the language of the prose around it.
    assert detect_language("```python\nfor item in items:\n    print(item)\n```") is None


def test_record_flags_combine_the_rules() -> None:
    record = SimpleNamespace(
        question="How should a beginner pace a marathon?",
        answer="<think>hmm</think> I'm sorry, but I can't help with pacing and",
        finish_reason="stop",
        tag_id=1,
    )
    context = FlagContext(language="en", lengths={1: LengthStats(200, 10, 10)})
    kinds = {flag.kind for flag in record_flags(record, context, "de")}
    assert kinds == {"refusal", "wrong_language", "leaked_reasoning", "truncated", "length_outlier"}
    clean = SimpleNamespace(
        question="What does a warm-up do?", answer=LONG_ENGLISH, finish_reason="stop", tag_id=2
    )
    assert record_flags(clean, context, "en") == []
