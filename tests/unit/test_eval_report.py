"""The evaluation's arithmetic: the pairwise verdict from both orders, the judge's winner read
from its reply, and the report's figures per tag and overall."""

from __future__ import annotations

import pytest

from distillset.evaluate.prompts import parse_winner, verdict_of
from distillset.evaluate.report import Outcome, as_markdown, student_report, table_rows
from distillset.llm import ModelOutputError


@pytest.mark.parametrize(
    ("student_first", "teacher_first", "verdict"),
    [
        ("A", "B", "win"),  # the student's answer preferred in both orders
        ("A", "tie", "win"),
        ("B", "A", "loss"),
        ("tie", "A", "loss"),
        ("A", "A", "tie"),  # position bias: the first answer always wins
        ("tie", "tie", "tie"),
    ],
)
def test_both_orders_make_one_verdict(student_first: str, teacher_first: str, verdict: str) -> None:
    assert verdict_of(student_first, teacher_first) == verdict


def test_the_winner_is_read_from_json_in_prose_or_refused() -> None:
    assert parse_winner('Sure. {"winner": "B", "reason": "clearer"}') == "B"
    assert parse_winner('{"winner": "Answer A"}') == "A"
    assert parse_winner("{'winner': 'TIE'}") == "tie"
    with pytest.raises(ModelOutputError):
        parse_winner("Both are fine.")


def test_figures_per_tag_and_overall() -> None:
    outcomes = [
        Outcome("Rowing", score=4.0, student_score=3.0, teacher_score=4.0, verdict="win"),
        Outcome("Rowing", score=2.0, student_score=2.0, teacher_score=4.0, verdict="loss"),
        Outcome("Diet", score=3.0, student_score=4.0, teacher_score=4.0, verdict="tie"),
    ]
    report = student_report("kd-0.6b", outcomes, failed=1)
    overall = report["overall"]
    assert overall["records"] == 3 and overall["score"] == 3.0
    assert overall["fraction_of_teacher"] == pytest.approx(0.75)
    assert (overall["win"], overall["tie"], overall["loss"]) == (0.333, 0.333, 0.333)
    assert report["tags"]["Rowing"]["fraction_of_teacher"] == pytest.approx(0.625)
    assert report["failed"] == 1
    full = {"records": 3, "judge": "qwen3", "students": [report]}
    rows = table_rows(full)
    assert [row[:2] for row in rows] == [["kd-0.6b", "(all)"], ["kd-0.6b", "Diet"],
                                         ["kd-0.6b", "Rowing"]]  # fmt: skip
    assert "| kd-0.6b | (all) | 3 | 3.00 | 3.00 | 4.00 | 0.75 |" in as_markdown(full)
