"""Property: any Unicode text (lone surrogates aside) round-trips through the store and exports.

Every file type is read back with its own reader and compared field by field; the alpaca
export (the reasoning inlined) must hold the answer and the reasoning unchanged too.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from distillset.domain import NotFoundError, text_hash
from distillset.export import ExportOptions, export_dataset
from distillset.projects.lifecycle import create_project, get_project
from distillset.store import Answer, Question, Store

# Surrogates cannot be UTF-8 at all (the gateway turns them into U+FFFD before storing).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
NON_EMPTY = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)


def _jsonl(path: Path) -> list[dict[str, str | None]]:
    # Lines end at "\n" only: str.splitlines() would also split at U+0085, U+2028...
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def _read(path: Path) -> dict[str, str | None]:
    if path.suffix == ".jsonl":
        (row,) = _jsonl(path)
    elif path.suffix == ".json":
        (row,) = json.loads(path.read_text(encoding="utf-8"))
    elif path.suffix == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", newline="") as handle:
            (row,) = list(csv.DictReader(handle))
    else:
        (row,) = pq.read_table(path).to_pylist()
    return row


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(question=NON_EMPTY, answer=ANY_TEXT, reasoning=st.none() | ANY_TEXT)
def test_any_text_round_trips_through_store_and_every_file_type(
    store: Store, question: str, answer: str, reasoning: str | None
) -> None:
    with store.session() as session:
        session.execute(delete(Question))
        try:
            project = get_project(session, "Property")
        except NotFoundError:
            project = create_project(session, "Property")
        row = Question(project_id=project.id, text=question, text_hash=text_hash(question))
        session.add(row)
        session.flush()
        session.add(
            Answer(question_id=row.id, project_id=project.id, answer=answer, reasoning=reasoning)
        )
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".jsonl", ".json", ".csv", ".parquet"):
            output = Path(folder) / f"raw{suffix}"
            with store.session() as session:
                export_dataset(
                    session,
                    get_project(session, "Property"),
                    ExportOptions(format="raw", output=output),
                )
            stored = _read(output)
            assert stored["question"] == question, suffix
            assert stored["answer"] == answer, suffix
            if suffix == ".csv":
                # CSV has no null: a missing reasoning is an empty cell.
                assert (stored["reasoning"] or None) == (reasoning or None), suffix
            else:
                assert stored["reasoning"] == reasoning, suffix
        inline = Path(folder) / "alpaca.jsonl"
        with store.session() as session:
            export_dataset(
                session,
                get_project(session, "Property"),
                ExportOptions(format="alpaca", output=inline),
            )
        (record,) = _jsonl(inline)
        assert record["instruction"] == question
        assert record["output"].endswith(answer)
        if reasoning:
            assert reasoning in record["output"]
