"""Difficulty: the judge rates each question 1-10 (a resumable task) through the CLI and real
HTTP; export filters and balances by it; the report shows its histogram. Both databases."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.review import parse_rating
from distillset.store import Question, Store
from distillset.testing import FakeModelServer
from distillset.testing.fake_content import difficulty_for

NAME = "Physical Education and Sports"
Cli = Callable[..., Result]


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    cli_project_factory(NAME)
    result = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "4")
    assert result.exit_code == 0, result.output
    return NAME


def ratings(store: Store) -> dict[str, int | None]:
    with store.session() as session:
        rows = session.execute(select(Question.text, Question.difficulty))
        return {text: difficulty for text, difficulty in rows}


def test_ratings_are_read_from_json_and_prose() -> None:
    assert parse_rating('{"difficulty": 7, "reason": "multi-step"}').difficulty == 7
    assert parse_rating('```json\n{"difficulty": 12.4}\n```').difficulty == 10
    assert parse_rating("Difficulty: 3 — one idea.").difficulty == 3


def test_rate_difficulty_rates_every_question_once_and_resumes(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.reset()
    result = cli("dataset", "rate", NAME, "--difficulty", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kind"] == "rate" and summary["status"] == "succeeded"
    assert summary["counters"]["rated"]["done"] == 8
    found = ratings(store)
    assert found == {text: difficulty_for(f"Question:\n{text}")["difficulty"] for text in found}
    assert fake_server.stats().total == 8

    fake_server.reset()
    again = cli("dataset", "rate", NAME, "--difficulty", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counters"]["rated"]["planned"] == 0
    assert fake_server.stats().total == 0

    # Ratings lost after the calls were paid for: a new run reads them from the call log.
    with store.session() as session:
        session.execute(update(Question).values(difficulty=None, rated_at=None))
    assert cli("dataset", "rate", NAME, "--difficulty").exit_code == 0
    assert fake_server.stats().total == 0
    assert ratings(store) == found


def test_export_filters_and_balances_by_difficulty(
    cli: Cli, project: str, store: Store, tmp_path: Path
) -> None:
    assert cli("dataset", "rate", NAME, "--difficulty").exit_code == 0
    found = ratings(store)
    level = sorted(value for value in found.values() if value is not None)[len(found) // 2]

    hard = tmp_path / "hard.jsonl"
    result = cli("export", NAME, "-o", str(hard), "--min-difficulty", str(level))
    assert result.exit_code == 0, result.output
    kept = {json.loads(line)["instruction"] for line in hard.read_text().splitlines()}
    assert kept == {text for text, value in found.items() if value is not None and value >= level}

    balanced = tmp_path / "balanced.jsonl"
    result = cli(
        "export", NAME, "-o", str(balanced), "--balanced", "1", "--balanced-by", "difficulty"
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line)["instruction"] for line in balanced.read_text().splitlines()]
    per_level = Counter(found[text] for text in rows)
    assert len(rows) == len(set(found.values())) and set(per_level.values()) == {1}


def test_report_shows_the_difficulty_histogram(
    cli: Cli, project: str, store: Store, tmp_path: Path
) -> None:
    assert cli("dataset", "rate", NAME, "--difficulty").exit_code == 0
    page = tmp_path / "report.html"

    result = cli("report", NAME, "--no-semantic", "--json", "--html", str(page))

    assert result.exit_code == 0, result.output
    histogram = json.loads(result.stdout)["difficulty"]
    assert histogram["unrated"] == 0
    assert Counter(ratings(store).values()) == {
        int(level): count for level, count in histogram.items() if level != "unrated" and count
    }
    assert "Question difficulty (0 unrated)" in page.read_text()


def test_python_api_rates_difficulty(project: str, settings: Settings, store: Store) -> None:
    with Project(NAME, settings=settings) as api_project:
        summary = api_project.rate_difficulty()
    assert summary["status"] == "succeeded"
    assert None not in ratings(store).values()


def test_rate_without_what_to_rate_is_refused(cli: Cli, project: str) -> None:
    result = cli("dataset", "rate", NAME)

    assert result.exit_code == 2
    assert "say what to rate: --difficulty" in result.stderr
