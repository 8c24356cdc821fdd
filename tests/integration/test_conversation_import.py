"""Multi-turn files imported as conversations, on both databases: every conversational export
read back to the same turns, reasoning and system prompt (single records beside them stay
records), through the Python API and the CLI; a bad conversation refused with its row."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.domain import Origin
from distillset.export import ExportOptions, export_dataset
from distillset.projects.lifecycle import get_project
from distillset.review import list_conversations
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from helpers import add_conversation, assert_refused_in_one_line, only_project

Cli = Callable[..., Result]
TURNS = [
    ("How do sprinters start?", None),
    ("From blocks, pushing hard.", "Think: blocks."),
    ("How long should the first steps be?", None),
    ("Short, then longer.", "Think: stride length."),
    ("And the arms?", None),
    ("Drive them hard.", "Think: arm action."),
]
OTHER = [("What is a relay?", None), ("A team race.", None), ("How many run?", None),
         ("Four.", "Think: 4x100.")]  # fmt: skip
# (format, file type, reasoning mode): every format that holds a whole conversation.
ROUND_TRIPS = [
    *[("sharegpt", kind, None) for kind in ("jsonl", "parquet")],
    *[("messages", kind, None) for kind in ("json", "jsonl", "hf")],
    ("trl", "jsonl", None),
    ("axolotl", "jsonl", "field"),
    ("harmony", "jsonl", "field"),
]
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def source(cli: Cli, store: Store) -> int:
    """A project with two complete conversations (one with a system prompt), an unfinished
    one, and one single record."""
    assert cli("project", "create", "Source").exit_code == 0
    with store.session() as session:
        project = session.merge(only_project(store))
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        add_conversation(session, project, tag, TURNS, system_prompt="Be a coach.")
        add_conversation(session, project, tag, OTHER)
        add_conversation(session, project, tag, [("Half done?", None)], complete=False)
        return project.id


def _talks(store: Store, name: str) -> list[dict[str, Any]]:
    """The complete conversations of a project: turns, reasoning and system prompt."""
    with store.session() as session:
        project = get_project(session, name)
        found = list_conversations(session, project, complete=True)
        return sorted(
            (
                {
                    "turns": [(t.role, t.content, t.reasoning) for t in talk.turns],
                    "system": talk.system_prompt,
                    "rounds": talk.rounds,
                }
                for talk in found
            ),
            key=repr,
        )


def test_every_conversational_export_imports_back_to_the_same_conversations(
    store: Store, settings: Settings, tmp_path: Path, source: int
) -> None:
    expected = _talks(store, "Source")
    assert len(expected) == 2
    for number, (fmt, kind, mode) in enumerate(ROUND_TRIPS):
        output = tmp_path / f"{number}-{fmt}" if kind == "hf" else tmp_path / f"{number}.{kind}"
        options = ExportOptions(
            format=fmt, output=output, file_format=kind, reasoning=mode, dataset_type="multi"
        )
        with store.session() as session:
            project = get_project(session, "Source")
            assert export_dataset(session, project, options).conversations == 2
        name = f"Copy {number}"
        with Project.create(name, settings=settings) as copy:
            result = copy.import_dataset(output)
            assert (result["read"], result["questions"]) == (2, 2), (fmt, kind)
            assert (result["answers"], result["conversations"]) == (0, 2), (fmt, kind)
            talks = copy.conversations()
        assert _talks(store, name) == expected, (fmt, kind, mode)
        assert all(talk["setting"]["origin"] == "imported" for talk in talks)
        assert all(talk["complete"] and talk["flags"] == [] for talk in talks)


def test_single_records_and_conversations_of_one_file_and_bad_rows(
    cli: Cli, store: Store, tmp_path: Path, source: int
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    rows = [
        {"conversations": [{"from": "human", "value": "Single?"}, {"from": "gpt", "value": "Y."}]},
        {
            "system": "",
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "Two rounds?"},
                {"from": "gpt", "value": "<think>count</think>Yes."},
                {"from": "human", "value": "Sure?"},
                {"from": "gpt", "value": "Sure."},
            ],
        },
        {
            "conversations": [
                {"from": "human", "value": "Two rounds?"},  # a repeat: skipped
                {"from": "gpt", "value": "No."},
            ]
        },  # fmt: skip
    ]
    mixed.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert cli("project", "create", "Mixed").exit_code == 0
    result = cli("dataset", "import", "Mixed", str(mixed))
    assert result.exit_code == 0, result.output
    assert "imported 2 questions (1 with answers, 1 conversations)" in result.stdout
    assert "1 duplicates skipped" in result.stdout
    listed = json.loads(cli("conversations", "list", "Mixed", "--json").stdout)
    (talk,) = listed
    assert [(t["role"], t["content"], t["reasoning"]) for t in talk["turns"]] == [
        ("user", "Two rounds?", None),
        ("assistant", "Yes.", "count"),
        ("user", "Sure?", None),
        ("assistant", "Sure.", None),
    ]
    assert (talk["setting"]["system_prompt"], talk["rounds"]) == ("Be brief.", 2)
    records = json.loads(cli("dataset", "list", "Mixed", "--json").stdout)["records"]
    assert [record["question"] for record in records] == ["Single?"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "A?"}]}) + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "Q?"},
                                   {"role": "assistant", "content": "A."},
                                   {"role": "user", "content": "And?"}]}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert_refused_in_one_line(
        cli, [(("dataset", "import", "Mixed", str(bad)), "line 1: a question followed by one")]
    )
    bad.write_text(bad.read_text(encoding="utf-8").splitlines()[1] + "\n", encoding="utf-8")
    assert_refused_in_one_line(
        cli, [(("dataset", "import", "Mixed", str(bad)), "line 1: a conversation's turns must")]
    )
    assert len(json.loads(cli("conversations", "list", "Mixed", "--json").stdout)) == 1
