"""Conversations exported in every conversational format, read back with `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from distillset.domain import InvalidInputError, Origin
from distillset.export import ExportOptions, export_dataset
from distillset.review import RecordFilter
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from helpers import add_conversation, only_project, seed_export_dataset

TURNS = [
    ("How do sprinters start?", None),
    ("From blocks, pushing hard.", "Think: blocks."),
    ("How long should the first steps be?", None),
    ("Short, then longer.", "Think: stride length."),
    ("And the arms?", None),
    ("Drive them hard.", "Think: arm action."),
]
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def project(store: Store):  # type: ignore[no-untyped-def]
    seed_export_dataset(store, per_tag=1, system=None)
    with store.session() as session:
        project = only_project(store)
        project = session.merge(project)
        tag = add_tag_path(session, project, "Running > Sprints", Origin.MANUAL)
        add_conversation(session, project, tag, TURNS, system_prompt="Be a coach.")
        # An unfinished conversation is never exported.
        add_conversation(session, project, tag, [("Half done?", None)], complete=False)
    return only_project(store)


def export(store: Store, project, path: Path, **options):  # type: ignore[no-untyped-def]
    with store.session() as session:
        result = export_dataset(session, project, ExportOptions(output=path, **options))
    loaded = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(path.parent / "cache")
    )
    return result, [row for row in loaded]


def test_sharegpt_holds_every_turn_with_reasoning_inline(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    result, rows = export(
        store, project, tmp_path / "c.jsonl", format="sharegpt", dataset_type="multi"
    )
    assert result.records == result.conversations == 1
    (row,) = rows
    assert [turn["from"] for turn in row["conversations"]] == ["human", "gpt"] * 3
    assert (
        row["conversations"][1]["value"]
        == "<think>\nThink: blocks.\n</think>\n\nFrom blocks, pushing hard."
    )
    assert row["system"] == "Be a coach."


def test_messages_with_reasoning_on_the_last_turn_only(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _result, rows = export(
        store,
        project,
        tmp_path / "m.jsonl",
        format="messages",
        dataset_type="multi",
        reasoning_turns="last",
    )
    messages = rows[0]["messages"]
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3
    assert messages[2]["content"] == "From blocks, pushing hard."
    assert messages[4]["content"] == "Short, then longer."
    assert messages[6]["content"].startswith("<think>\nThink: arm action.")


def test_trl_completes_the_last_reply_after_the_whole_history(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _result, rows = export(
        store, project, tmp_path / "t.jsonl", format="trl", dataset_type="multi", reasoning="drop"
    )
    row = rows[0]
    assert [m["role"] for m in row["prompt"]] == ["system"] + ["user", "assistant"] * 2 + ["user"]
    assert row["completion"] == [{"role": "assistant", "content": "Drive them hard."}]


def test_axolotl_carries_reasoning_content_on_every_assistant_turn(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _result, rows = export(
        store, project, tmp_path / "a.jsonl", format="axolotl", dataset_type="multi"
    )
    messages = rows[0]["messages"]
    reasoning = [m["reasoning_content"] for m in messages if m["role"] == "assistant"]
    assert reasoning == ["Think: blocks.", "Think: stride length.", "Think: arm action."]
    assert all(m["reasoning_content"] == "" for m in messages if m["role"] != "assistant")
    assert messages[2]["content"] == "From blocks, pushing hard."


def test_harmony_thinking_per_turn_and_the_last_exchange_in_its_columns(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    _result, rows = export(
        store, project, tmp_path / "h.jsonl", format="harmony", dataset_type="multi"
    )
    row = rows[0]
    thinking = [m["thinking"] for m in row["messages"] if m["role"] == "assistant"]
    assert thinking == ["Think: blocks.", "Think: stride length.", "Think: arm action."]
    assert (row["user"], row["final"], row["analysis"]) == (
        "And the arms?",
        "Drive them hard.",
        "Think: arm action.",
    )
    _result, dropped = export(
        store,
        project,
        tmp_path / "h2.jsonl",
        format="harmony",
        dataset_type="multi",
        reasoning="drop",
    )
    assert all(m["thinking"] == "" for m in dropped[0]["messages"])


def test_both_holds_single_records_and_conversations_and_the_default_too(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    both, rows = export(
        store, project, tmp_path / "b.jsonl", format="messages", dataset_type="both"
    )
    assert (both.records, both.conversations) == (4, 1)
    assert sorted(len(row["messages"]) for row in rows) == [2, 2, 2, 7]
    default, _rows = export(store, project, tmp_path / "d.jsonl", format="messages")
    assert (default.records, default.conversations) == (4, 1)
    single, _rows = export(
        store, project, tmp_path / "s.jsonl", format="messages", dataset_type="single"
    )
    assert (single.records, single.conversations) == (3, 0)
    flat, _rows = export(store, project, tmp_path / "f.jsonl", format="alpaca")
    assert (flat.records, flat.conversations) == (3, 0)
    assert flat.warnings == [
        "1 conversations left out: the 'alpaca' format holds one exchange per row "
        "(sharegpt, messages, trl, axolotl and harmony hold conversations)"
    ]
    assert default.warnings == [] and single.warnings == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "alpaca", "dataset_type": "multi"}, "holds one exchange per row"),
        ({"format": "messages", "dataset_type": "multi", "search": "x"}, "only single records"),
        ({"format": "messages", "dataset_type": "many"}, "unknown dataset type"),
        ({"format": "messages", "reasoning_turns": "first"}, "unknown reasoning turns"),
    ],
)
def test_a_choice_conversations_cannot_take_is_refused_before_writing(
    store: Store,
    project,
    tmp_path: Path,
    options: dict,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    options = dict(options)  # the parameter is shared by both databases' runs
    search = options.pop("search", None)
    target = tmp_path / "x.jsonl"
    with store.session() as session, pytest.raises(InvalidInputError, match=message):
        export_dataset(
            session,
            project,
            ExportOptions(output=target, record_filter=RecordFilter(search=search), **options),
        )
    assert not target.exists()


def test_llamafactory_registers_conversations_as_sharegpt(
    store: Store,
    project,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with store.session() as session:
        export_dataset(
            session,
            project,
            ExportOptions(format="sharegpt", dataset_type="multi", llamafactory_dir=tmp_path),
        )
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    (entry,) = info.values()
    assert entry["formatting"] == "sharegpt"
    rows = json.loads((tmp_path / entry["file_name"]).read_text(encoding="utf-8"))
    assert len(rows[0]["conversations"]) == 6
