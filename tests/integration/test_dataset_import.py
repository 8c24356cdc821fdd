"""Importing dataset files through the CLI, the REST API and the Python API, on both
databases: every export format read back to the same records, duplicates skipped and
counted, a bad file refused with its row and nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import Result

from distillset import Project, resolve, review
from distillset.config import Settings
from distillset.domain import InvalidInputError, Origin
from distillset.export import ExportOptions, export_dataset
from distillset.store import Answer, Question, Store, Tag
from helpers import assert_refused_in_one_line, seed_export_dataset

Cli = Callable[..., Result]
Triple = tuple[str, str | None, str | None]

# (format, file type, reasoning mode): every exporter, in each file type it writes, in a
# mode that keeps the reasoning (inline as <think> blocks, or in its own field).
ROUND_TRIPS = [
    *[("alpaca", kind, None) for kind in ("json", "jsonl", "csv", "parquet", "hf")],
    *[("sharegpt", kind, None) for kind in ("json", "jsonl", "parquet", "hf")],
    *[("messages", kind, None) for kind in ("json", "jsonl", "parquet", "hf")],
    *[("trl", kind, None) for kind in ("jsonl", "parquet")],
    *[("axolotl", kind, "field") for kind in ("jsonl", "parquet", "hf")],
    *[("harmony", kind, "field") for kind in ("json", "parquet")],
    *[("custom", kind, "inline") for kind in ("jsonl", "csv")],
    *[("custom", kind, "field") for kind in ("json", "csv", "parquet")],
    *[("raw", kind, "field") for kind in ("jsonl", "csv", "parquet", "hf")],
]


def _triples(store: Store, project_id: int) -> list[Triple]:
    """Every question of a project with its answer and reasoning (None: unanswered)."""
    with store.session() as session:
        rows = session.execute(
            select(Question.text, Answer.answer, Answer.reasoning)
            .outerjoin(Answer, Answer.question_id == Question.id)
            .where(Question.project_id == project_id)
        )
        return sorted((tuple(row) for row in rows), key=repr)  # type: ignore[misc]


def test_every_export_imports_back_to_the_same_records(
    store: Store, settings: Settings, tmp_path: Path, database: str
) -> None:
    source = seed_export_dataset(store)
    expected = _triples(store, source.id)
    assert len(expected) == 12 and sum(r is None for _q, _a, r in expected) == 3
    for number, (fmt, kind, mode) in enumerate(ROUND_TRIPS):
        output = tmp_path / f"{number}-{fmt}" if kind == "hf" else tmp_path / f"{number}.{kind}"
        options = ExportOptions(format=fmt, output=output, file_format=kind, reasoning=mode)
        with store.session() as session:
            assert export_dataset(session, source, options).records == 12
        with Project.create(f"Copy {number}", settings=settings) as copy:
            result = copy.import_dataset(output, tag="Sports > Imported")
            assert (result["read"], result["questions"], result["answers"]) == (12, 12, 12)
            assert result["tag_path"] == "Sports > Imported", (fmt, kind)
            project_id = copy.info()["id"]
        assert _triples(store, project_id) == expected, (fmt, kind, mode)


def test_renamed_fields_read_back_with_field_names(
    store: Store, settings: Settings, tmp_path: Path, cli: Cli, database: str
) -> None:
    source = seed_export_dataset(store, per_tag=2)
    output = tmp_path / "custom.jsonl"
    names = {"question": "prompt_text", "answer": "response", "reasoning": "why"}
    options = ExportOptions(format="custom", output=output, reasoning="field", fields=names)
    with store.session() as session:
        export_dataset(session, source, options)
    assert cli("project", "create", "Copy").exit_code == 0
    fields = [f"--field={part}={name}" for part, name in names.items()]
    result = cli("dataset", "import", "Copy", str(output), *fields, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["shape"] == "custom"
    with store.session() as session:
        copy_id = resolve.project_id(session, "Copy")
    assert _triples(store, copy_id) == _triples(store, source.id)


def test_duplicates_are_skipped_and_counted_and_questions_are_imported(
    cli: Cli, store: Store, tmp_path: Path, database: str
) -> None:
    rows = [
        {"instruction": "What is a try?", "output": "<think>rugby</think>A score."},
        {"instruction": "  what IS a try ", "output": "The same question."},
        {"instruction": "What is offside?", "output": "A rule.", "thinking": "football"},
    ]
    path = tmp_path / "rugby.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    assert cli("project", "create", "Sports").exit_code == 0

    first = cli("dataset", "import", "Sports", str(path), "--tag", "Ball games > Rugby")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "imported 2 questions (2 with answers) from 3 alpaca records under "
        "'Ball games > Rugby'; 1 duplicates skipped"
    )
    again = json.loads(cli("dataset", "import", "Sports", str(path), "--json").stdout)
    assert (again["questions"], again["duplicates"], again["tag_path"]) == (0, 3, "Imported")

    with store.session() as session:
        questions = session.scalars(select(Question).order_by(Question.id)).all()
        assert [(q.text, q.origin) for q in questions] == [
            ("What is a try?", Origin.IMPORTED.value),
            ("What is offside?", Origin.IMPORTED.value),
        ]
        tag = session.get(Tag, questions[0].tag_id)
        assert tag is not None and tag.label == "Rugby"
        answers = session.scalars(select(Answer).order_by(Answer.id)).all()
        assert [(a.answer, a.reasoning, a.prompt) for a in answers] == [
            ("A score.", "rugby", None),
            ("A rule.", "football", None),
        ]
    listed = json.loads(cli("questions", "list", "Sports", "--json").stdout)
    assert [q["origin"] for q in listed] == ["imported", "imported"]


BAD = {
    "bad.json": (b'[{"instruction": "Q", "output": "A"},', "not valid JSON"),
    "bad.jsonl": (
        b'{"question": "Q1", "answer": "A"}\n{"question": "Q2", "answer": "A"}\n'
        b'{"question": "Q3\\ud800", "answer": "A"}\n',
        "line 3: invalid question: text that is not valid UTF-8",
    ),
    "control.jsonl": (
        b'{"question": "Q1", "answer": "A"}\n'
        b'{"question": "Q2", "answer": "\\u001b]0;pwned\\u0007"}\n',
        "line 2: invalid answer: control characters",
    ),
    "ambiguous.jsonl": (
        b'{"question": "Q", "answer": "A", "instruction": "Q", "output": "A"}\n',
        "the rows fit several shapes",
    ),
    "cells.csv": (b"question,answer\nQ1,A1\nQ2\n", "row 2: 1 cells where the header has 2"),
    "empty.csv": (b"question,answer\nQ1,A1\nQ2,\n", "row 2: the answer is empty"),
}


def test_a_bad_file_is_refused_in_one_line_and_nothing_is_written(
    cli: Cli, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    assert cli("project", "create", "Sports").exit_code == 0
    cases: list[tuple[tuple[str, ...], str]] = []
    for name, (content, message) in BAD.items():
        (tmp_path / name).write_bytes(content)
        cases.append(
            (("dataset", "import", "Sports", str(tmp_path / name), "--tag", "New"), message)
        )
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "Q", "answer": "A"}\n', encoding="utf-8")
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as handle:
        handle.truncate(review.MAX_IMPORT_BYTES + 1)
    cases += [
        (("dataset", "import", "Sports", str(good), "--field", "prompt=question"), "unknown field"),
        (("dataset", "import", "Sports", str(good), "--field", "question"), "PART=NAME"),
        (("dataset", "import", "Sports", str(good), "--shape", "alpaca"), "not in the Alpaca"),
        (("dataset", "import", "Sports", str(huge)), "huge.jsonl is too large"),
        (("dataset", "import", "Sports", str(tmp_path / "none.jsonl")), "no such file"),
        (("dataset", "import", "Nope", str(good)), "no project named 'Nope'"),
    ]
    assert_refused_in_one_line(cli, cases)
    with store.session() as session:
        assert session.scalars(select(Question)).all() == []
        assert session.scalars(select(Tag)).all() == []  # not even --tag New


def test_the_rest_api_imports_an_upload_checked_as_it_is_read(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    project = client.post("/api/v1/projects", json={"name": "Sports"}).json()
    url = f"/api/v1/projects/{project['id']}/dataset/import"
    tag = client.post(f"/api/v1/projects/{project['id']}/tags", json={"label": "Rugby"}).json()
    lines = (
        b'{"conversations": [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A."}]}\n'
    )

    made = client.post(url, files={"file": ("chat.jsonl", lines)}, data={"tag_id": tag["id"]})
    assert made.status_code == 201, made.text
    assert made.json() | {"tag_id": 0} == {
        "file_format": "jsonl",
        "shape": "sharegpt",
        "read": 1,
        "questions": 1,
        "answers": 1,
        "conversations": 0,
        "duplicates": 0,
        "tag_id": 0,
        "tag_path": "Rugby",
    }
    custom = b'{"q": "Other?", "a": "B."}\n'
    named = client.post(
        url,
        files={"file": ("x.data", custom)},
        data={"file_format": "jsonl", "field": ["question=q", "answer=a"]},
    )
    assert named.status_code == 201 and named.json()["tag_path"] == "Imported", named.text

    monkeypatch.setattr(review, "MAX_IMPORT_BYTES", 100)
    small = b'{"question": "Z?", "answer": "Z."}\n'
    refused = {
        "big": client.post(url, files={"file": ("big.jsonl", lines * 2)}),
        "row": client.post(url, files={"file": ("bad.jsonl", b'{"q": 1}\n')}),
        "suffix": client.post(url, files={"file": ("a.txt", lines)}),
        "field": client.post(url, files={"file": ("a.jsonl", custom)}, data={"field": "q"}),
        "tag": client.post(url, files={"file": ("a.jsonl", small)}, data={"tag_id": 999}),
        "project": client.post(
            "/api/v1/projects/999/dataset/import", files={"file": ("a.jsonl", custom)}
        ),
    }
    assert {name: r.status_code for name, r in refused.items()} == {
        "big": 422,
        "row": 422,
        "suffix": 422,
        "field": 422,
        "tag": 404,
        "project": 404,
    }
    assert refused["big"].json()["detail"] == "the file is larger than 100 bytes"
    assert "cannot tell the shape of the rows (their fields: q)" in refused["row"].json()["detail"]
    assert "cannot tell the file format of 'a.txt'" in refused["suffix"].json()["detail"]
    with store.session() as session:
        assert len(session.scalars(select(Question)).all()) == 2


def test_the_python_api_refuses_a_bad_file_and_writes_nothing(
    settings: Settings, store: Store, tmp_path: Path, database: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"instruction": "Q1", "output": "A"}\n{"instruction": "Q2", "output": "\\u0000"}\n',
        encoding="utf-8",
    )
    with Project.create("Sports", settings=settings) as project:
        with pytest.raises(InvalidInputError, match="line 2: invalid answer: control characters"):
            project.import_dataset(path, tag="A > B")
        assert project.info()["questions"] == 0 and project.tree() == []
        with pytest.raises(InvalidInputError, match="unknown shape 'chatml'"):
            project.import_dataset(path, shape="chatml")
