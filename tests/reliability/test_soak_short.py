"""The short soak in CI: two SIGKILLs of `distillset auto` and a takeover of a paused run, with
faults, then resume and check.

The soak's report is checked on its own too: a lost question must show beside a failed tag.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from distillset.config import Settings
from distillset.domain import text_hash
from distillset.projects.lifecycle import create_project
from distillset.store import Answer, Question, Store, Task
from distillset.tags.tree import add_children

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    command = [sys.executable, str(SOAK), "--kills", "2", "--takeovers", "1"]
    command += ["--tags", "4", "--questions", "4"]
    env = os.environ | {"TMPDIR": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=280)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "PASS: nothing lost" in done.stdout, report
    assert "kills that hit a running process: 2 of 2" in done.stdout, report
    assert "takeovers of a paused run: 1 of 1" in done.stdout, report
    assert "replies paid twice per kill or takeover: " in done.stdout, report


@pytest.fixture(scope="module")
def soak() -> Iterator[ModuleType]:
    """bench/soak.py as a module (registered while it loads: its dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["soak"]


def _half_failed_run(store: Store, failed_questions: int) -> None:
    """Levels 2 x tags 2 x questions 2: the topic's second tag slot failed (its subtree left
    the plan); leaf A1 has its 2 questions, leaf A2 only 1; all answered."""
    with store.session() as session:
        project = create_project(session, "Soak topic")
        (top,) = add_children(session, project.id, None, ["A"])
        leaves = add_children(session, project.id, top, ["A1", "A2"])
        texts = {leaves[0].id: ["q1", "q2"], leaves[1].id: ["q3"]}
        for tag_id, questions in texts.items():
            for text in questions:
                question = Question(
                    project_id=project.id, tag_id=tag_id, text=text, text_hash=text_hash(text)
                )
                session.add(question)
                session.flush()
                session.add(Answer(question_id=question.id, project_id=project.id, answer="a"))
        counters = {
            "tags": {"planned": 4, "done": 3, "failed": 1, "skipped": 0},
            "questions": {
                "planned": 3 + failed_questions,
                "done": 3,
                "failed": failed_questions,
                "skipped": 0,
            },
            "answers": {"planned": 3, "done": 3, "failed": 0, "skipped": 0},
        }
        session.add(
            Task(
                project_id=project.id,
                kind="auto_distill",
                status="failed",
                counters=counters,
                last_error="sub-tags of tag topic: HTTP 500",
            )
        )


@pytest.mark.parametrize(("failed_questions", "lost"), [(0, 1), (1, 0)])
def test_the_soak_report_sees_a_lost_question_beside_a_failed_tag(
    soak: ModuleType, store: Store, settings: Settings, failed_questions: int, lost: int
) -> None:
    """A2's missing question is lost unless the run recorded it failed."""
    _half_failed_run(store, failed_questions)
    args = argparse.Namespace(levels=2, tags=2, questions=2)

    report = soak.inspect(settings.home / "distillset.sqlite3", args)

    assert report.expected["questions"] == 4  # the 2 created leaves: the failed slot has none
    assert report.expected["tags"] == 4  # the topic's 2 slots and A's 2
    assert report.lost == {"tags": 0, "questions": lost, "answers": 0}
    outcome = soak.Outcome(report, soak.RunLog(), {"max_in_flight": 1}, 0.0)
    assert ("lost 1 questions" in soak.problems_of(outcome, 4)) == bool(lost)
