"""Every export format and file type, read back with the real readers."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from distillset import resolve
from distillset.domain import DistillsetError, Origin
from distillset.export import FORMATS, ExportOptions, export_dataset
from distillset.review.editing import set_confirmed, set_score
from distillset.review.filters import RecordFilter
from distillset.store import Answer, Project, Question, Store
from helpers import assert_openai_chat_line, read_jsonl, seed_export_dataset

THINK_OPEN = "<think>\n"


@pytest.fixture
def project(store: Store) -> Project:
    return seed_export_dataset(store)


def run_export(store: Store, project: Project, **options: Any) -> Any:
    with store.session() as session:
        return export_dataset(session, project, ExportOptions(**options))


def test_messages_jsonl_lines_match_the_openai_schema(
    store: Store, project: Project, tmp_path: Path
) -> None:
    result = run_export(store, project, format="messages", output=tmp_path / "train.jsonl")
    lines = read_jsonl(tmp_path / "train.jsonl")
    assert result.records == len(lines) == 12
    for line in lines:
        assert_openai_chat_line(line)
        assert line["messages"][0] == {"role": "system", "content": "Be precise."}
        assistant = line["messages"][-1]["content"]
        assert assistant.count(THINK_OPEN) <= 1
    with_reasoning = [line for line in lines if THINK_OPEN in line["messages"][-1]["content"]]
    assert len(with_reasoning) == 9
    assert with_reasoning[0]["messages"][-1]["content"] == (
        "<think>\nReasoning 1\nstep two\n</think>\n\nAnswer 1\nsecond line, with comma"
    )


def test_inline_reasoning_appears_exactly_once_with_custom_delimiters(
    store: Store, project: Project, tmp_path: Path
) -> None:
    run_export(
        store,
        project,
        format="alpaca",
        output=tmp_path / "a.json",
        think_open="[R]",
        think_close="[/R]",
        record_filter=RecordFilter(has_reasoning=True),
    )
    rows = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert len(rows) == 9
    for row in rows:
        assert row["output"].count("[R]") == 1 and row["output"].count("[/R]") == 1
        assert row["output"].count("Reasoning") == 1 and row["output"].endswith("comma")
        assert row["input"] == "" and row["system"] == "Be precise."


def test_field_mode_keeps_reasoning_out_of_the_answer(
    store: Store, project: Project, tmp_path: Path
) -> None:
    run_export(store, project, format="axolotl", reasoning="field", output=tmp_path / "x.jsonl")
    for line in read_jsonl(tmp_path / "x.jsonl"):
        assistant = line["messages"][-1]
        assert "Reasoning" not in assistant["content"] and "<think>" not in assistant["content"]
        assert assistant["content"].startswith("Answer")
    run_export(
        store,
        project,
        format="custom",
        reasoning="field",
        fields={"question": "prompt", "answer": "response", "reasoning": "cot"},
        output=tmp_path / "c.jsonl",
    )
    rows = read_jsonl(tmp_path / "c.jsonl")
    assert list(rows[1]) == ["id", "tag_path", "prompt", "cot", "response"]
    assert rows[1]["cot"] == "Reasoning 1\nstep two" and "Reasoning" not in rows[1]["response"]
    assert rows[0]["cot"] is None and rows[0]["tag_path"] == "Ball games > Football"


def test_drop_mode_leaves_no_reasoning_anywhere(
    store: Store, project: Project, tmp_path: Path
) -> None:
    for name, fmt in FORMATS.items():
        if "drop" not in fmt.modes:
            continue
        path = tmp_path / f"{name}.jsonl"
        run_export(store, project, format=name, reasoning="drop", output=path)
        text = path.read_text(encoding="utf-8")
        assert "Reasoning" not in text and "<think>" not in text, name


def test_harmony_rows_have_the_multilingual_thinking_shape(
    store: Store, project: Project, tmp_path: Path
) -> None:
    run_export(store, project, format="harmony", output=tmp_path / "h.parquet")
    rows = pq.read_table(tmp_path / "h.parquet").to_pylist()
    assert len(rows) == 12
    row = rows[1]
    assert list(row) == ["reasoning_language", "developer", "user", "analysis", "final", "messages"]
    assert row["reasoning_language"] == "English" and row["developer"] == "Be precise."
    assert row["analysis"] == "Reasoning 1\nstep two" and row["final"].startswith("Answer 1")
    roles = [(m["role"], m["thinking"]) for m in row["messages"]]
    # One type per field in every file type: no thinking is "" (as analysis), never null.
    assert roles == [("system", ""), ("user", ""), ("assistant", row["analysis"])]
    assert row["messages"][0]["content"] == "reasoning language: English\n\nBe precise."


def test_trl_prompt_completion(store: Store, project: Project, tmp_path: Path) -> None:
    run_export(store, project, format="trl", output=tmp_path / "t.jsonl")
    line = read_jsonl(tmp_path / "t.jsonl")[2]
    assert [m["role"] for m in line["prompt"]] == ["system", "user"]
    assert [m["role"] for m in line["completion"]] == ["assistant"]
    assert line["completion"][0]["content"].startswith(THINK_OPEN)


def test_sharegpt_and_raw_in_every_file_type(
    store: Store, project: Project, tmp_path: Path
) -> None:
    for suffix in ("json", "jsonl", "csv", "parquet"):
        if suffix != "csv":  # turns are nested records: CSV refuses them (test_export_schema)
            run_export(store, project, format="sharegpt", output=tmp_path / f"s.{suffix}")
        run_export(store, project, format="raw", output=tmp_path / f"r.{suffix}")
    share_json = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert share_json == read_jsonl(tmp_path / "s.jsonl")
    assert share_json == pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert share_json[0]["conversations"][0]["from"] == "human"
    raw_rows = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert raw_rows == read_jsonl(tmp_path / "r.jsonl")
    assert raw_rows[1]["reasoning"] == "Reasoning 1\nstep two" and raw_rows[1]["labels"] == []
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as file:
        raw_csv = list(csv.DictReader(file))
    assert raw_csv[1]["answer"] == "Answer 1\nsecond line, with comma"
    assert raw_csv[1]["question"] == 'Football question 1, "quoted"?'
    assert len(raw_csv) == 12


# Stored columns that are not a record's own: links, lookup keys, a failed attempt's error.
# The exact generated text and its offsets are the teacher's provenance: never loaded with
# records, they travel as the tokens of `export --soft-labels`.
NOT_RECORD_FIELDS = {
    "project_id", "text_hash", "last_error", "answer_attempt",
    "raw_content", "raw_reasoning", "text_spans",
}  # fmt: skip
# Question columns under the names the raw row gives them.
RAW_QUESTION_NAMES = {
    "id": "question_id",
    "text": "question",
    "model": "question_model",
    "origin": "question_origin",
    "created_at": "question_created_at",
}


def test_raw_holds_every_stored_field_of_a_record(
    store: Store, project: Project, tmp_path: Path
) -> None:
    with store.session() as session:
        question = session.scalars(select(Question).order_by(Question.id)).first()
        assert question is not None
        question.origin = Origin.IMPORTED.value
        question.created_at = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    run_export(store, project, format="raw", output=tmp_path / "r.jsonl")
    run_export(store, project, format="raw", output=tmp_path / "r.parquet")
    rows = read_jsonl(tmp_path / "r.jsonl")
    assert pq.read_table(tmp_path / "r.parquet").to_pylist() == rows
    assert rows[0]["question_origin"] == "imported"
    # Moments carry their zone, so a reader elsewhere does not take them for local time.
    assert rows[0]["question_created_at"] == "2024-05-06T07:08:09+00:00"
    assert {row["question_origin"] for row in rows[1:]} == {"distilled"}
    for row in rows:
        for moment in ("created_at", "question_created_at"):
            assert datetime.fromisoformat(row[moment]).utcoffset() == timedelta(0)
    stored = {column.name for column in Answer.__table__.columns} | {
        RAW_QUESTION_NAMES.get(column.name, column.name) for column in Question.__table__.columns
    }
    assert stored - NOT_RECORD_FIELDS <= set(rows[0])


def test_filters_and_all_really_means_all(store: Store, project: Project, tmp_path: Path) -> None:
    with store.session() as session:
        running = RecordFilter(tag_id=resolve.tag_id(session, project, "Running"))
        tennis = RecordFilter(tag_id=resolve.tag_id(session, project, "Ball games > Tennis"))
        set_confirmed(session, project, True, record_filter=running)
        set_score(session, project, 4.5, record_filter=tennis)
        ball_games = resolve.tag_id(session, project, "Ball games")
    assert run_export(store, project, format="raw", output=tmp_path / "a.jsonl").records == 12
    confirmed = run_export(
        store,
        project,
        format="raw",
        output=tmp_path / "c.jsonl",
        record_filter=RecordFilter(confirmed=True),
    )
    assert confirmed.records == 4
    assert {row["tag_path"] for row in read_jsonl(tmp_path / "c.jsonl")} == {"Running"}
    scored = run_export(
        store,
        project,
        format="raw",
        output=tmp_path / "s.jsonl",
        record_filter=RecordFilter(min_score=4, tag_id=ball_games),
    )
    assert scored.records == 4 and set(scored.tags) == {"Ball games > Tennis"}


def test_empty_selection_still_writes_valid_files(
    store: Store, project: Project, tmp_path: Path
) -> None:
    empty = RecordFilter(confirmed=True)
    for suffix in ("json", "jsonl", "csv", "parquet"):
        run_export(store, project, output=tmp_path / f"e.{suffix}", record_filter=empty)
    assert json.loads((tmp_path / "e.json").read_text()) == []
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
    assert (tmp_path / "e.csv").read_text().splitlines() == ["instruction,input,output,system"]


def test_bad_options_fail_before_writing(store: Store, project: Project, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"format": "yaml"}, "unknown export format"),
        ({"format": "messages", "reasoning": "field"}, "cannot hold reasoning as 'field'"),
        ({"format": "harmony", "reasoning": "inline"}, "cannot hold"),
        ({"format": "alpaca", "reasoning": "sideways"}, "unknown reasoning mode"),
        ({"file_format": "xml"}, "unknown file format"),
        ({"output": tmp_path / "data.txt"}, "cannot tell the file format"),
        ({"output": tmp_path / "missing" / "d.json"}, "not a directory"),
        ({"split": "eval=1.5"}, "between 0 and 1"),
        ({"balanced": 0}, "at least 1"),
        ({"format": "custom", "fields": {"colour": "x"}}, "unknown custom field"),
        ({"format": "custom", "fields": {"question": "answer"}}, "must differ"),
        ({"format": "trl", "llamafactory_dir": tmp_path}, "LLaMA-Factory reads"),
        ({"format": "sharegpt", "llamafactory_dir": tmp_path, "file_format": "hf"}, "cannot read"),
        ({"format": "sharegpt", "file_format": "csv"}, "a CSV file cannot hold"),
        ({"output": tmp_path, "file_format": "jsonl"}, "it is a directory"),
        ({"split": "x"}, "write it as eval=0.05"),
        ({"output": Path(__file__), "file_format": "hf"}, "over the file"),
        ({"record_filter": RecordFilter(tag_id=999)}, "no tag with id 999 in project 'Sports'"),
    ]
    for overrides, message in cases:
        options = {"output": tmp_path / "out.json", **overrides}
        with pytest.raises(DistillsetError, match=message):
            run_export(store, project, **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_previous_file_and_no_partial_one(
    store: Store, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "data.jsonl"
    target.write_text("previous\n", encoding="utf-8")
    from distillset.export.formats.alpaca import AlpacaFormat

    calls = 0
    original = AlpacaFormat.row

    def failing_row(self: AlpacaFormat, record: Any, ctx: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise RuntimeError("disk on fire")
        return original(self, record, ctx)

    monkeypatch.setattr(AlpacaFormat, "row", failing_row)
    with pytest.raises(RuntimeError):
        run_export(store, project, output=target, batch_size=2)
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


def test_balanced_keeps_at_most_k_per_leaf_tag(
    store: Store, project: Project, tmp_path: Path
) -> None:
    result = run_export(store, project, format="raw", output=tmp_path / "b.jsonl", balanced=3)
    assert result.records == 9 and set(result.tags.values()) == {3}
