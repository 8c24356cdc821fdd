"""End to end on one machine: the fake teacher answers with soft labels in the tiny
student's vocabulary, `auto` keeps them, `train --method kd` trains on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from distillset.testing import FakeModelServer

NAME = "Rowing"
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def distilled(
    database: str,
    cli: Cli,
    cli_project_factory: Callable[[str], str],
    fake_server: FakeModelServer,
    tiny_student: Path,
) -> str:
    """A project distilled by a teacher that shares the tiny student's tokenizer (on SQLite
    and PostgreSQL)."""
    fake_server.configure(vocabulary=str(tiny_student))
    cli_project_factory(NAME)
    ok(cli("model", "set", "fake", "--logprobs", "5", "--tokenizer", str(tiny_student)))
    ok(cli("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "4", "--json"))
    return NAME


def test_kd_trains_on_the_teachers_soft_labels(
    cli: Cli, distilled: str, tiny_student: Path, tmp_path: Path
) -> None:
    output = tmp_path / "kd-student"
    args = ("--student", str(tiny_student), "--output", str(output), "--method", "kd")
    steps = ("--max-steps", "6", "--logging-steps", "2", "--lr", "5e-3", "--json")
    result = ok(cli("train", NAME, *args, "--alpha", "0.7", "--temperature", "2", *steps))
    summary = json.loads(result.stdout)
    assert summary["kind"] == "train" and summary["status"] == "succeeded"
    assert summary["counters"]["steps"]["done"] == 6
    card = (output / "README.md").read_text()
    assert "knowledge distillation" in card and "| alpha | 0.7 |" in card
    # Every record had usable soft labels: none fell back to the answers alone.
    assert "| records on hard labels only | 0 |" in card
    losses = [float(part.split(": ")[1]) for part in card.split("by step: ")[1].split(", ")]
    assert len(losses) == 3 and losses[-1] < losses[0], losses  # LoRA learns from the KD loss
    shown = ok(cli("tasks", "show", str(summary["id"]))).stdout
    assert "steps 6/6" in shown and "training: loss " in shown and "tokens/s" in shown


def test_kd_with_a_student_of_another_vocabulary_is_refused(
    cli: Cli, distilled: str, tmp_path: Path
) -> None:
    from distillset.testing.tiny_student import build_tiny_student, train_tokenizer

    other = tmp_path / "other"
    build_tiny_student(other)
    train_tokenizer(["something else entirely, " * 5], vocab_size=300).save_pretrained(other)
    output = tmp_path / "out"
    args = ("--student", str(other), "--output", str(output), "--method", "kd")
    result = cli("train", NAME, *args)
    assert result.exit_code != 0
    assert "is not the student's" in result.output and str(other) in result.output
    assert not output.exists()


def test_train_then_eval_the_student_against_the_teacher(
    cli: Cli, distilled: str, tiny_student: Path, tmp_path: Path, client: Any
) -> None:
    """auto -> train --method kd -> eval, with the fake server as the student served by an
    endpoint and as the judge, and the trained student on disk beside it."""
    output = tmp_path / "kd-student"
    args = ("--student", str(tiny_student), "--output", str(output), "--method", "kd")
    trained = ok(cli("train", NAME, *args, "--max-steps", "2", "--eval-split", "0.3", "--json"))
    train_task = json.loads(trained.stdout)
    report_file = tmp_path / "report.md"
    result = ok(
        cli(
            "eval",
            NAME,
            "--student",
            "fake",
            "--student-path",
            str(output),
            "--eval-split",
            "0.3",
            "--max-new-tokens",
            "8",
            "--markdown",
            str(report_file),
            "--json",
        )  # fmt: skip
    )
    summary = json.loads(result.stdout)
    assert summary["kind"] == "eval" and summary["status"] == "succeeded"
    report = summary["counters"]["report"]
    assert report["judge"] == "fake" and report["records"] >= 3
    assert [s["student"] for s in report["students"]] == ["fake", str(output.resolve())]
    for student in report["students"]:
        overall = student["overall"]
        assert overall["records"] == report["records"] and student["failed"] == 0
        assert overall["win"] + overall["tie"] + overall["loss"] == pytest.approx(1, abs=0.01)
        assert 0 <= overall["score"] <= 5 and 0 <= overall["teacher_score"] <= 5
        assert (
            set(student["tags"])
            and sum(t["records"] for t in student["tags"].values()) == (overall["records"])
        )
    # The fake student answers as the fake teacher did: its grade is the teacher's own.
    fake = report["students"][0]["overall"]
    assert fake["student_score"] == fake["teacher_score"]
    assert "| student | tag | records |" in report_file.read_text()
    # The web app's task pages show both: the training's losses, the report's table.
    project_id = summary["project_id"]
    page = client.get(f"/projects/{project_id}/tasks/{train_task['id']}").text
    assert "Steps" in page and 'data-field="loss"' in page and "KD (alpha 0.5, T 2.0)" in page
    page = client.get(f"/projects/{project_id}/tasks/{summary['id']}").text
    assert "Students against the teacher" in page and str(output.resolve()) in page


def test_eval_is_refused_without_students_or_held_out_records(cli: Cli, distilled: str) -> None:
    nothing = cli("eval", NAME)
    assert nothing.exit_code != 0 and "nothing to evaluate" in nothing.output
    empty = cli("eval", NAME, "--student", "fake", "--confirmed")
    assert empty.exit_code != 0 and "the held-out split is empty" in empty.output


def test_a_resumed_eval_asks_nothing_it_has_an_answer_for(
    cli: Cli, distilled: str, store: Any, fake_server: FakeModelServer
) -> None:
    from distillset.store import Task

    first = json.loads(ok(cli("eval", NAME, "--student", "fake", "--json")).stdout)
    assert fake_server.stats().by_kind  # answers, grades and verdicts were asked
    with store.session() as session:
        session.get_one(Task, first["id"]).status = "interrupted"  # its process stopped
    fake_server.reset()
    resumed = json.loads(ok(cli("tasks", "resume", str(first["id"]), "--json")).stdout)
    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["report"] == first["counters"]["report"]
    assert fake_server.stats().by_kind == {}  # every call answered from the cache
    # Without --json: a table, a row per student and tag.
    table = ok(cli("eval", NAME, "--student", "fake"))
    assert "score vs ref" in table.stdout and "fake\t(all)\t" in table.stdout


def test_an_eval_pauses_at_its_budget_and_resumes_with_a_higher_one(
    cli: Cli, distilled: str, fake_server: FakeModelServer
) -> None:
    ok(cli("model", "set", "fake", "--price-in", "2", "--price-out", "8"))
    args = ("eval", NAME, "--student", "fake", "--eval-split", "0.3", "--json")
    paused = cli(*args, "--max-cost", "0.001")
    assert paused.exit_code == 3, paused.output
    summary = json.loads(paused.stdout)
    assert summary["status"] == "paused" and summary["last_error"].startswith("budget reached")
    assert "report" not in summary["counters"]
    resumed = cli("tasks", "resume", str(summary["id"]), "--max-cost", "1", "--json")
    finished = json.loads(ok(resumed).stdout)
    assert finished["status"] == "succeeded"
    report = finished["counters"]["report"]
    (student,) = report["students"]
    assert report["records"] >= 3 and student["failed"] == 0
    assert student["overall"]["records"] == report["records"]
