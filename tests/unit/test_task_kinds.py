"""Task kinds are declared by their packages and looked up by name in one registry."""

from __future__ import annotations

import pytest

from distillset.domain import InvalidInputError, TaskKind
from distillset.kinds import KINDS, stages_of
from distillset.runs.kinds import KindRegistry


def test_every_kind_the_domain_names_has_a_declared_run() -> None:
    assert KINDS.names() == sorted(kind.value for kind in TaskKind)


def test_each_kind_declares_the_stages_its_counters_have() -> None:
    for kind in ("auto_distill", "tags", "questions", "answers"):
        assert [stage.name for stage in stages_of(kind)] == [
            "tags",
            "questions",
            "answers",
            "turns",
        ]
    assert [(stage.name, stage.label) for stage in stages_of("judge")] == [("judged", "Judged")]
    assert [(stage.name, stage.label) for stage in stages_of("refine")] == [("refined", "Refined")]
    assert stages_of("no-such-kind") == ()


def test_an_unknown_kind_is_refused_in_one_line_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as refused:
        KINDS.get("export")
    assert str(refused.value) == (
        "no runner for 'export' tasks (known kinds: answers, auto_distill, auto_tag, eval, "
        "judge, judge_conversations, questions, rate, refine, score_tokens, tags, train)"
    )


def test_a_kind_cannot_be_declared_twice() -> None:
    judge = KINDS.get("judge")
    with pytest.raises(ValueError, match="declared twice"):
        KindRegistry([judge, judge])
