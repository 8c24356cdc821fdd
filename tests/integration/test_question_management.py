"""Questions as items of their own: edit, delete (asking first), move and export questions
alone, through the CLI, the REST API and the Python API, on both databases."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.domain import InvalidInputError, NotFoundError
from distillset.store import Answer, Question, Store
from helpers import assert_refused_in_one_line, read_jsonl, seed_export_dataset

Cli = Callable[..., Result]


@pytest.fixture
def seeded(database: str, store: Store) -> int:
    """Sports: Ball games > Football and > Tennis, and Running, 4 answered questions each."""
    return seed_export_dataset(store).id


def _listed(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("questions", "list", "Sports", "--json", *args)
    assert result.exit_code == 0, result.output
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def _counts(store: Store) -> tuple[int, int]:
    with store.session() as session:
        questions = session.scalar(select(func.count(Question.id))) or 0
        answers = session.scalar(select(func.count(Answer.id))) or 0
    return int(questions), int(answers)


def test_cli_edits_moves_and_deletes_questions(cli: Cli, store: Store, seeded: int) -> None:
    first, second, *_ = (row["id"] for row in _listed(cli))
    edited = cli("questions", "edit", "Sports", str(first), "--text", "What is a corner kick?")
    assert edited.exit_code == 0 and edited.stdout.strip() == f"question {first} updated"
    shown = json.loads(cli("dataset", "list", "Sports", "--json", "--limit", "1").stdout)
    assert shown["records"][0]["question"] == "What is a corner kick?"  # the answer stayed

    moved = cli("questions", "move", "Sports", "--tag", "Ball games > Tennis", "--to", "Running")
    assert moved.stdout.strip() == "moved 4 questions to 'Running'"
    assert (
        len(_listed(cli, "--tag", "Running")) == 8
        and _listed(cli, "--tag", "Ball games > Tennis") == []
    )

    refused = cli("questions", "delete", "Sports", str(first), str(second), input="n\n")
    assert refused.exit_code == 1 and "Delete 2 questions and their 2 answers?" in refused.stdout
    assert _counts(store) == (12, 12)
    deleted = cli("questions", "delete", "Sports", str(first), str(second), input="y\n")
    assert deleted.exit_code == 0 and "deleted 2 questions and 2 answers" in deleted.stdout
    by_tag = cli("questions", "delete", "Sports", "--tag", "Running", "--yes", "--json")
    assert json.loads(by_tag.stdout) == {"questions": 8, "answers": 8}
    assert _counts(store) == (2, 2)
    assert [row["tag"] for row in _listed(cli)] == ["Ball games > Football"] * 2


def test_cli_refuses_bad_question_changes_in_one_line(cli: Cli, store: Store, seeded: int) -> None:
    first, second, *_ = (row["id"] for row in _listed(cli))
    other = _listed(cli)[1]["question"]
    assert_refused_in_one_line(
        cli,
        [
            (("questions", "edit", "Sports", str(first), "--text", other.upper()), "already asks"),
            (("questions", "edit", "Sports", str(first), "--text", "  "), "cannot be empty"),
            (
                ("questions", "edit", "Sports", str(first), "--text", "Q\x1b[2J"),
                "control characters",
            ),
            (("questions", "edit", "Sports", "999", "--text", "Q?"), "no question 999"),
            (("questions", "delete", "Sports", "--yes"), "name questions by id, select them"),
            (("questions", "delete", "Sports", "1", "--tag", "Running", "--yes"), "not both"),
            (("questions", "delete", "Sports", str(first), "999", "--yes"), "no question 999"),
            (("questions", "delete", "Sports", "--tag", "Nope", "--yes"), "no tag 'Nope'"),
            (("questions", "move", "Sports", str(first), "--to", "Nope"), "no tag 'Nope'"),
            (("questions", "move", "Sports", "--to", "Running"), "name questions by id"),
            (("questions", "export", "Sports", "-o", "q.txt"), "cannot tell the file format"),
        ],
    )
    assert _counts(store) == (12, 12)
    assert _listed(cli)[0]["question"] != other.upper()


def test_questions_export_alone_and_import_into_another_project(
    cli: Cli, store: Store, seeded: int, tmp_path: Path
) -> None:
    # One question of Running without its answer: the --unanswered export holds it alone.
    running = _listed(cli, "--tag", "Running")
    assert (
        cli("dataset", "delete", "Sports", "--search", running[0]["question"], "--yes").exit_code
        == 0
    )
    lines = tmp_path / "questions.jsonl"
    done = cli("questions", "export", "Sports", "-o", str(lines), "--json")
    assert json.loads(done.stdout) == {
        "file_format": "jsonl",
        "questions": 12,
        "output": str(lines),
    }
    rows = read_jsonl(lines)
    assert list(rows[0]) == ["id", "tag_path", "question"]
    assert {row["tag_path"] for row in rows} == {
        "Ball games > Football",
        "Ball games > Tennis",
        "Running",
    }
    table = tmp_path / "open.csv"
    assert cli("questions", "export", "Sports", "-o", str(table), "--unanswered").exit_code == 0
    with table.open(encoding="utf-8", newline="") as handle:
        assert [row["question"] for row in csv.DictReader(handle)] == [running[0]["question"]]

    assert cli("project", "create", "Elsewhere").exit_code == 0
    imported = cli("dataset", "import", "Elsewhere", str(lines), "--tag", "To answer", "--json")
    assert json.loads(imported.stdout)["questions"] == 12
    assert json.loads(imported.stdout)["answers"] == 0
    elsewhere = json.loads(cli("questions", "list", "Elsewhere", "--json").stdout)
    assert sorted(q["question"] for q in elsewhere) == sorted(row["question"] for row in rows)
    assert not any(q["answered"] for q in elsewhere)


def test_rest_api_edits_deletes_moves_and_exports_questions(
    client: TestClient, store: Store, seeded: int
) -> None:
    base = f"/api/v1/projects/{seeded}/questions"
    items = client.get(base, params={"limit": 100}).json()["items"]
    first = items[0]["id"]
    tags = {
        t["label"]: t["id"] for t in client.get(f"/api/v1/projects/{seeded}/tags").json()["items"]
    }

    edited = client.patch(f"{base}/{first}", json={"text": "What makes a volley legal?"})
    assert edited.status_code == 200 and edited.json()["text"] == "What makes a volley legal?"
    found = client.get(base, params={"q": "volley"}).json()["items"]
    assert [row["id"] for row in found] == [first]  # the text index follows the edit
    assert client.patch(f"{base}/{first}", json={"text": "\u0000"}).status_code == 422
    assert client.patch(f"{base}/424242", json={"text": "Q?"}).status_code == 404

    moved = client.post(f"{base}/move", json={"ids": [first], "to_tag_id": tags["Running"]})
    assert moved.json() == {"moved": 1, "tag_id": tags["Running"]}
    running = client.get(base, params={"tag_id": tags["Running"], "limit": 100}).json()["items"]
    assert first in [row["id"] for row in running] and len(running) == 5

    download = client.get(
        f"{base}/export", params={"file_format": "csv", "tag_id": tags["Running"]}
    )
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="sports-questions.csv"' in download.headers["content-disposition"]
    exported = list(csv.DictReader(io.StringIO(download.text)))
    assert len(exported) == 5 and {row["tag_path"] for row in exported} == {"Running"}
    lines = client.get(f"{base}/export").text.splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["id"] == items[0]["id"]
    assert client.get(f"{base}/export", params={"tag_id": 424242}).status_code == 404
    assert client.get(f"{base}/export", params={"file_format": "xml"}).status_code == 422

    assert client.post(f"{base}/delete", json={}).status_code == 422
    assert client.post(f"{base}/delete", json={"ids": [first], "all": True}).status_code == 422
    assert client.post(f"{base}/delete", json={"ids": [424242]}).status_code == 404
    by_filter = client.post(f"{base}/delete", json={"tag_id": tags["Running"]})
    assert by_filter.json() == {"questions": 5, "answers": 5}
    assert client.delete(f"{base}/{items[1]['id']}").json() == {
        "deleted": items[1]["id"],
        "answers": 1,
    }
    assert client.post(f"{base}/delete", json={"all": True}).json()["questions"] == 6
    assert _counts(store) == (0, 0)


def test_python_api_manages_questions(
    settings: Settings, store: Store, seeded: int, tmp_path: Path
) -> None:
    with Project("Sports", settings=settings) as project:
        first = project.questions(limit=1)[0]["id"]
        assert project.edit_question(first, "Why do footballers warm up?")["text"] == (
            "Why do footballers warm up?"
        )
        moved = project.move_questions([first], to="Ball games")
        assert moved == {"moved": 1, "tag_id": moved["tag_id"], "tag_path": "Ball games"}
        written = project.export_questions(tmp_path / "q.parquet", tag="Ball games")
        assert written["questions"] == 8 and written["file_format"] == "parquet"
        with pytest.raises(InvalidInputError, match="name questions by id"):
            project.delete_questions()
        with pytest.raises(NotFoundError, match="no tag 'Nope'"):
            project.move_questions([first], to="Nope")
        assert project.delete_questions(answered=True, tag="Running") == {
            "questions": 4,
            "answers": 4,
        }
        assert project.delete_questions(everything=True) == {"questions": 8, "answers": 8}
        assert project.info()["questions"] == 0
