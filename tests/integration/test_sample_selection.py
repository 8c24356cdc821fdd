"""Choosing among best-of-N samples and exporting them (one per question, all, preference
pairs), through the CLI against the fake server over real HTTP, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from datasets import load_dataset
from sqlalchemy import select
from typer.testing import Result

from distillset.review import final_answer
from distillset.store import Answer, Question, Store
from distillset.testing import FakeModelServer

NAME = "Physical Education and Sports"
Cli = Callable[..., Result]


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    """Two questions with three samples each, sampled at temperature 0.7."""
    cli_project_factory(NAME)
    result = cli(
        "auto", NAME, "--levels", "1", "--tags", "1", "--questions", "2",
        "--samples", "3", "--temperature", "0.7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return NAME


def samples(store: Store) -> dict[int, list[Answer]]:
    found: dict[int, list[Answer]] = {}
    with store.session() as session:
        for answer in session.scalars(select(Answer).order_by(Answer.variant)):
            session.expunge(answer)
            found.setdefault(answer.question_id, []).append(answer)
    return found


def test_final_answers_are_read_from_boxes_and_final_lines() -> None:
    assert final_answer("so the total is \\boxed{42}.") == "42"
    assert final_answer("Reasoning...\n\n**Final answer:** Paris.") == "paris"
    assert final_answer("The answer is: 7\nmore text\nFinal Answer: 8") == "8"
    assert final_answer("No conclusion here.") is None


def test_consistency_chooses_the_majority_and_records_agreement(
    cli: Cli, project: str, store: Store
) -> None:
    result = cli("dataset", "select", NAME, "--by", "consistency", "--json")

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["questions"] == 2 and outcome["chosen"] == 2
    assert outcome["mean_agreement"] == pytest.approx(2 / 3, abs=1e-3)
    for question_id, answers in samples(store).items():
        chosen = [answer for answer in answers if answer.chosen]
        assert len(chosen) == 1
        finals = [final_answer(answer.answer) for answer in answers]
        assert finals.count(final_answer(chosen[0].answer)) == 2  # the majority's answer
        with store.session() as session:
            question = session.get(Question, question_id)
            assert question is not None
            assert question.selected_by == "consistency"
            assert question.agreement == pytest.approx(2 / 3)


def test_judge_selection_scores_the_samples_and_chooses_the_best(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    result = cli("dataset", "select", NAME, "--by", "judge", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kind"] == "judge" and summary["status"] == "succeeded"
    for answers in samples(store).values():
        assert all(answer.score is not None for answer in answers)
        best = max(answers, key=lambda a: (a.score, -a.variant))
        assert [answer.id for answer in answers if answer.chosen] == [best.id]

    fake_server.reset()
    again = cli("dataset", "select", NAME, "--by", "judge", "--json")
    assert again.exit_code == 0, again.output
    assert fake_server.stats().total == 0  # every sample is scored already


def test_export_takes_the_chosen_sample_unless_all_are_asked_for(
    cli: Cli, project: str, store: Store, tmp_path: Path
) -> None:
    assert cli("dataset", "select", NAME, "--by", "consistency").exit_code == 0
    chosen = {a.answer for answers in samples(store).values() for a in answers if a.chosen}

    one = tmp_path / "one.jsonl"
    result = cli("export", NAME, "-f", "alpaca", "-o", str(one), "--reasoning", "drop")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in one.read_text().splitlines()]
    assert len(rows) == 2
    assert {row["output"] for row in rows} == chosen

    every = tmp_path / "all.jsonl"
    result = cli("export", NAME, "-f", "alpaca", "-o", str(every), "--all-samples")
    assert result.exit_code == 0, result.output
    assert len(every.read_text().splitlines()) == 6


def test_dpo_pairs_the_best_and_worst_sample_by_score(
    cli: Cli, project: str, store: Store, tmp_path: Path
) -> None:
    assert cli("dataset", "select", NAME, "--by", "judge").exit_code == 0
    expected = {}
    for answers in samples(store).values():
        best = max(answers, key=lambda a: (a.score, a.chosen, -a.variant))
        worst = min(answers, key=lambda a: (a.score, a.chosen, -a.variant))
        if best.score - worst.score >= 0.5:
            expected[best.answer] = worst.answer
    assert expected  # the fake judge's scores differ between samples
    out = tmp_path / "pairs.jsonl"

    result = cli(
        "export", NAME, "-f", "dpo", "-o", str(out), "--reasoning", "drop", "--margin", "0.5"
    )

    assert result.exit_code == 0, result.output
    rows = list(load_dataset("json", data_files=str(out), split="train"))
    assert {row["chosen"][0]["content"]: row["rejected"][0]["content"] for row in rows} == expected
    for row in rows:
        assert row["prompt"][-1]["role"] == "user"
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"


def test_ranking_export_registers_a_llamafactory_ranking_dataset(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    assert cli("dataset", "select", NAME, "--by", "judge").exit_code == 0

    result = cli(
        "export", NAME, "-f", "ranking", "--llamafactory", str(tmp_path),
        "--dataset-name", "prefs", "--margin", "0.5",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["prefs"]["ranking"] is True
    assert info["prefs"]["columns"]["chosen"] == "chosen"
    rows = list(load_dataset("json", data_files=str(tmp_path / "prefs.json"), split="train"))
    assert rows and all(row["chosen"] != row["rejected"] and row["instruction"] for row in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dataset", "select", NAME, "--by", "vote"), "unknown selection 'vote'"),
        (("export", NAME, "-f", "dpo", "-o", "x.jsonl", "--margin", "0"), "the margin must be"),
        (("export", NAME, "-o", "x.jsonl", "--balanced-by", "size"), "unknown --balanced-by"),
        (("export", NAME, "-o", "x.jsonl", "--min-difficulty", "11"), "min difficulty must be"),
    ],
)
def test_bad_selection_and_pair_options_are_refused(
    cli: Cli, project: str, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
