"""Reading dataset files: each shape's question, answer and reasoning, the shape told from
the fields, and every kind of bad file refused with the row it is about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillset.domain import InvalidInputError
from distillset.review import import_files, read_dataset


def _jsonl(tmp_path: Path, rows: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _read(
    tmp_path: Path, rows: list[Any], **options: Any
) -> list[tuple[str, str | None, str | None]]:
    dataset = read_dataset(_jsonl(tmp_path, rows), **options)
    return [(r.question, r.answer, r.reasoning) for r in dataset.records]


@pytest.mark.parametrize(
    ("row", "shape"),
    [
        ({"instruction": "Q?", "input": "", "output": "<think>\nwhy\n</think>\n\nA."}, "alpaca"),
        ({"instruction": "Q?", "output": "A.", "reasoning_content": "why"}, "alpaca"),
        (
            {
                "conversations": [
                    {"from": "system", "value": "Be brief."},
                    {"from": "human", "value": "Q?"},
                    {"from": "gpt", "value": "<thinking>why</thinking>A."},
                ]
            },
            "sharegpt",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Q?"},
                    {"role": "assistant", "content": "A.", "reasoning_content": "why"},
                ]
            },
            "messages",
        ),
        (  # Harmony / Multilingual-Thinking: `thinking` on the assistant turn
            {
                "reasoning_language": "English",
                "user": "Q?",
                "final": "A.",
                "messages": [
                    {"content": "reasoning language: English", "role": "system"},
                    {"content": "Q?", "role": "user"},
                    {"content": "A.", "role": "assistant", "thinking": "why"},
                ],
            },
            "messages",
        ),
        (
            {
                "prompt": [{"role": "user", "content": "Q?"}],
                "completion": [{"role": "assistant", "content": "<think>why</think>A."}],
            },
            "trl",
        ),
        ({"prompt": "Q?", "completion": "<think>why</think> A."}, "trl"),
        ({"id": 3, "question": "Q?", "answer": "A.", "thinking": "why"}, "custom"),
        ({"question": "Q?", "reasoning": "why", "answer": "A."}, "custom"),
    ],
)
def test_each_shape_gives_the_question_answer_and_reasoning(
    tmp_path: Path, row: dict[str, Any], shape: str
) -> None:
    dataset = read_dataset(_jsonl(tmp_path, [row]))
    assert dataset.shape == shape
    record = dataset.records[0]
    assert (record.question, record.answer, record.reasoning) == ("Q?", "A.", "why")


def test_alpaca_input_joins_the_instruction_and_no_reasoning_is_none(tmp_path: Path) -> None:
    rows = [{"instruction": "Translate:", "input": "Bonjour", "output": "Hello"}]
    assert _read(tmp_path, rows) == [("Translate:\n\nBonjour", "Hello", None)]


def test_named_fields_and_questions_alone(tmp_path: Path) -> None:
    rows = [{"prompt_text": "Q?", "response": "A.", "why": "because"}]
    fields = {"question": "prompt_text", "answer": "response", "reasoning": "why"}
    assert _read(tmp_path, rows, fields=fields) == [("Q?", "A.", "because")]
    # A questions export (id, tag path, question): questions without answers.
    alone = [{"id": 1, "tag_path": "A > B", "question": "Q1?"}, {"question": "Q2?"}]
    assert _read(tmp_path, alone) == [("Q1?", None, None), ("Q2?", None, None)]


def test_csv_cells_holding_turns_are_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    turns = [
        {"role": "user", "content": 'Say "hi",\nplease'},
        {"role": "assistant", "content": "hi"},
    ]
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["messages"], [json.dumps(turns)]])
    records = read_dataset(path).records
    assert [(r.question, r.answer) for r in records] == [('Say "hi",\nplease', "hi")]


BAD_ROWS: list[tuple[list[Any], dict[str, Any], str]] = [
    ([{"foo": 1}], {}, "cannot tell the shape of the rows (their fields: foo)"),
    (
        [{"instruction": "Q", "output": "A", "messages": []}],
        {},
        "the rows fit several shapes: Alpaca (instruction, output), OpenAI messages (messages); "
        "choose one with --shape (alpaca or messages)",
    ),
    ([{"instruction": "Q", "output": "A"}], {"shape": "sharegpt"}, "not in the ShareGPT"),
    ([{"instruction": "Q", "output": "A"}], {"shape": "chatml"}, "unknown shape 'chatml'"),
    ([{"q": "Q", "a": "A"}], {"fields": {"prompt": "q"}}, "unknown field 'prompt'"),
    ([{"q": "Q", "a": "A"}], {"fields": {"question": "nope"}}, "the file has no field 'nope'"),
    ([{"q": "Q", "a": "A"}], {"fields": {"question": "q", "answer": "q"}}, "different columns"),
    ([{"q": "Q"}], {"fields": {"question": "q", "answer": ""}}, "needs a column name"),
    (
        [{"instruction": "Q", "output": "A"}, {"instruction": "Q2", "output": ""}],
        {},
        "line 2: the answer is empty",
    ),
    ([{"instruction": 42, "output": "A"}], {}, "line 1: the instruction is not text (int)"),
    (
        [{"instruction": "Q", "output": "<think>only thinking</think>"}],
        {},
        "line 1: the answer is empty once its reasoning is taken out",
    ),
    ([{"instruction": "Q", "output": "A"}, [1, 2]], {}, "line 2: a record is a JSON object"),
    (
        [
            {
                "messages": [
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"},
                ]
            }
        ],
        {},
        "line 1: a conversation's turns must alternate user and assistant",
    ),
    (
        [
            {
                "conversations": [
                    {"from": "human", "value": "Q1"},
                    {"from": "human", "value": "Q2"},
                    {"from": "gpt", "value": "A"},
                    {"from": "gpt", "value": "B"},
                ]
            }
        ],
        {},
        "line 1: a conversation's turns must alternate user and assistant",
    ),
    (
        [
            {
                "messages": [
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": " "},
                    {"role": "assistant", "content": "A2"},
                ]
            }
        ],
        {},
        "line 1: the turn 2 is empty",
    ),
    (
        [{"messages": [{"role": "tool", "content": "x"}]}],
        {},
        "line 1: turn 1 of 'messages' has the unknown role 'tool'",
    ),
    ([{"messages": [{"role": "user", "content": "Q"}]}], {}, "a question followed by one reply"),
    ([{"conversations": "Q and A"}], {}, "'conversations' is not a list of turns"),
    (
        [{"question": "Q\ud800", "answer": "A"}],
        {},
        "line 1: invalid question: text that is not valid",
    ),
    (
        [{"question": "Q", "answer": "A"}, {"question": "Q2", "answer": "A\x1b[2J"}],
        {},
        "line 2: invalid answer: control characters",
    ),
    ([{"question": "Q\x00", "answer": "A"}], {}, "line 1: invalid question: control characters"),
    ([{"question": "Q" * 100_001, "answer": "A"}], {}, "line 1: question too long"),
    ([], {}, "holds no records"),
]


@pytest.mark.parametrize(("rows", "options", "message"), BAD_ROWS)
def test_a_bad_row_is_refused_with_where_it_is(
    tmp_path: Path, rows: list[Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        read_dataset(_jsonl(tmp_path, rows), **options)
    assert message in str(refused.value)


BAD_FILES: list[tuple[str, bytes, str]] = [
    (
        "a.json",
        b'[{"instruction": "Q", "output": "A"},',
        "not valid JSON (Expecting value at line 1",
    ),
    ("a.json", b'{"instruction": "Q", "output": "A"}', "a JSON dataset file holds an array"),
    ("a.jsonl", b'{"question": "Q", "answer": "A"}\n{"question": \n', "line 2: not valid JSON"),
    ("a.jsonl", b'{"question": "Q\xff", "answer": "A"}\n', "is not UTF-8 text (byte 15)"),
    ("a.csv", b"question,answer\nQ,A\nQ2,A2,extra\n", "row 2: 3 cells where the header has 2"),
    ("a.csv", b"question,question\nQ,A\n", "the CSV header names a column twice"),
    ("a.csv", b'question,answer\n"Q,A\n', "not valid CSV"),
    ("a.parquet", b"not parquet at all", "a.parquet is not a Parquet file"),
    ("a.txt", b"question,answer\n", "cannot tell the file format of 'a.txt'"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[m for *_, m in BAD_FILES])
def test_a_bad_file_is_refused_clearly(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as refused:
        read_dataset(path)
    assert message in str(refused.value)


def test_size_and_row_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as handle:  # sparse: the size is known without writing it
        handle.truncate(import_files.MAX_IMPORT_BYTES + 1)
    with pytest.raises(InvalidInputError, match=r"huge.jsonl is too large \(268.4 MB > 268 MB\)"):
        read_dataset(huge)
    monkeypatch.setattr(import_files, "MAX_IMPORT_ROWS", 2)
    rows = [{"question": f"Q{n}", "answer": "A"} for n in range(3)]
    with pytest.raises(InvalidInputError, match="more than 2 rows"):
        read_dataset(_jsonl(tmp_path, rows))
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "rows.parquet")
    with pytest.raises(InvalidInputError, match="more than 2 rows"):
        read_dataset(tmp_path / "rows.parquet")
    assert len(read_dataset(_jsonl(tmp_path, rows[:2])).records) == 2


def test_file_format_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file or directory"):
        read_dataset(tmp_path / "missing.jsonl")
    path = _jsonl(tmp_path, [{"question": "Q", "answer": "A"}], name="data.txt")
    assert read_dataset(path, file_format="jsonl").records[0].answer == "A"
    with pytest.raises(InvalidInputError, match="unknown file format 'xml'"):
        read_dataset(path, file_format="xml")
    with pytest.raises(InvalidInputError, match="is not a datasets directory"):
        read_dataset(tmp_path)
