"""Parsing judge replies: JSON, fenced or repaired JSON, prose; clamped to 0-5 half steps."""

from __future__ import annotations

import pytest

from distillset.llm import ModelOutputError
from distillset.review.judge import verdict_format
from distillset.review.verdict import clamp_score, parse_verdict


@pytest.mark.parametrize(
    ("reply", "score", "reason"),
    [
        ('{"score": 4.5, "reason": "Accurate."}', 4.5, "Accurate."),
        ('```json\n{"score": 3, "reason": "Gaps",}\n```', 3.0, "Gaps"),
        ('Here you go: {"Score": "4/5", "Reason": "Good"} hope it helps', 4.0, "Good"),
        ('<think>score 1 maybe</think>\n{"score": 2.5, "reason": "x"}', 2.5, "x"),
        ('reasoning first</think>{"score": 5, "reason": "y"}', 5.0, "y"),
        ('<THINKING>score 1</THINKING>{"score": 2, "reason": "z"}<think>4</think>', 2.0, "z"),
        ('{"score": 7.2, "reason": "too high"}', 5.0, "too high"),
        ('{"score": -1, "reason": "too low"}', 0.0, "too low"),
        ('{"score": 3.3, "reason": "odd"}', 3.5, "odd"),
        ('{"rating": 4, "explanation": "alias keys"}', 4.0, "alias keys"),
        ("Score: 8/10\nReason: solid and clear", 4.0, "solid and clear"),
        ("**Rating:** 3 out of 5", 3.0, "**Rating:** 3 out of 5"),
        ("评分：4\n理由：准确", 4.0, "准确"),
        ('{"score": 4, "reason": "unterminated', 4.0, "unterminated"),
    ],
)
def test_replies_in_many_shapes(reply: str, score: float, reason: str) -> None:
    verdict = parse_verdict(reply)
    assert verdict.score == score
    assert verdict.reason == reason


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I think it is a fine answer.",
        '{"reason": "no score"}',
        "<think>score 4</think>",
        # Cut off while still thinking: a score it was weighing is no verdict.
        "<thinking>Maybe score 4, but first check the units",
    ],
)
def test_replies_without_a_score_are_errors(reply: str) -> None:
    with pytest.raises(ModelOutputError):
        parse_verdict(reply)


def test_clamp_score() -> None:
    assert [clamp_score(v) for v in (0.2, 0.25, 0.76, 4.74, 4.76, 9)] == [0, 0, 1, 4.5, 5, 5]
    with pytest.raises(ModelOutputError):
        clamp_score(float("nan"))


def test_structured_output_request_per_endpoint_capability() -> None:
    schema = verdict_format("json_schema")
    assert schema is not None and schema["json_schema"]["schema"]["required"] == ["score", "reason"]
    assert verdict_format("json_object") == {"type": "json_object"}
    assert verdict_format("none") is None
