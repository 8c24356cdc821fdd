"""Choosing among best-of-N samples and exporting them (one per question, all, preference
pairs), through the CLI against the fake server over real HTTP, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from datasets import load_dataset
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.review import final_answer
from distillset.store import Answer, Question, Store
from distillset.testing import FakeModelServer
from helpers import make_web_project

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
    assert final_answer("Because. Final answer: 1") == "1"
    assert final_answer("No conclusion here.") is None
    assert final_answer("The answer lies in training.") is None


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


def test_python_api_selects_and_exports_preference_pairs(
    project: str, settings: Settings, store: Store, tmp_path: Path
) -> None:
    with Project(NAME, settings=settings) as api_project:
        voted = api_project.select("consistency")
        assert voted["chosen"] == 2 and voted["method"] == "consistency"
        judged = api_project.select("judge")
        assert judged["status"] == "succeeded"
        out = tmp_path / "pairs.parquet"
        written = api_project.export(out, format="dpo", margin=0.5)
    rows = list(load_dataset("parquet", data_files=str(out), split="train"))
    assert written["records"] == len(rows) > 0
    chosen_ids = {a.id for answers in samples(store).values() for a in answers if a.chosen}
    assert len(chosen_ids) == 2  # the judge's choice replaced the vote's


def _finish(client: TestClient, task_id: int) -> dict[str, Any]:
    """Read the task's SSE stream to its end; the last event's data."""
    last: dict[str, Any] = {}
    with client.stream("GET", f"/api/v1/tasks/{task_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                last = json.loads(line[6:])
    return last


def test_rest_generates_samples_and_selects(
    database: str, client: TestClient, fake_server: FakeModelServer, store: Store
) -> None:
    project_id = make_web_project(client, fake_server.url)
    base = f"/api/v1/projects/{project_id}"
    params = {
        "levels": 1, "tags_per_level": 1, "questions_per_tag": 2,
        "samples": 3, "temperature": 0.7,
    }  # fmt: skip
    assert client.post(f"{base}/auto/plan", json=params).json()["answers"] == 6
    started = client.post(f"{base}/tasks/auto", json=params)
    assert started.status_code == 202
    assert _finish(client, started.json()["task_id"])["status"] == "succeeded"

    voted = client.post(f"{base}/selection", json={"by": "consistency"})
    assert voted.status_code == 200 and voted.json()["chosen"] == 2

    judged = client.post(f"{base}/selection", json={"by": "judge"})
    assert judged.status_code == 202 and judged.json()["kind"] == "judge"
    assert _finish(client, judged.json()["id"])["status"] == "succeeded"
    for answers in samples(store).values():
        best = max(answers, key=lambda a: (a.score, -a.variant))
        assert [a.id for a in answers if a.chosen] == [best.id]

    assert client.post(f"{base}/selection", json={"by": "vote"}).status_code == 422
    assert client.post(f"{base}/selection", json={"by": "judge", "tag_id": 999}).status_code == 404
