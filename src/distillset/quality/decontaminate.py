"""Decontamination: questions of the project that copy a benchmark's questions.

A project question is contaminated when it shares a run of n words (an n-gram, 13 by default
as open-r1 and s1 use, 8 at the least) with a benchmark question, after case, width and
punctuation are folded; a text written without spaces counts characters instead of words. A
text shorter than n matches only as a whole. Benchmark files are JSONL, CSV or Parquet (or a
JSON list); the question column is named, or found among the usual names.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.generation.dedup import comparison_key
from distillset.store.models import Answer, Project, Question
from distillset.store.queries import TagPaths

MIN_NGRAM, MAX_NGRAM, DEFAULT_NGRAM = 8, 13, 13
QUESTION_FIELDS = ("question", "problem", "prompt", "instruction", "query", "input", "text")
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class BenchmarkQuestion:
    source: str  # file and line or row ("gsm8k.jsonl:12")
    text: str


@dataclass
class Contamination:
    question_id: int
    tag_path: str
    question: str
    source: str
    benchmark_question: str
    overlap: str  # the shared n-gram (or the whole text)
    records: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "tag_path": self.tag_path,
            "question": self.question,
            "source": self.source,
            "benchmark_question": self.benchmark_question,
            "overlap": self.overlap,
            "records": self.records,
        }


def checked_ngram(size: int) -> int:
    if not MIN_NGRAM <= size <= MAX_NGRAM:
        raise InvalidInputError(
            f"the n-gram size must be between {MIN_NGRAM} and {MAX_NGRAM}, got {size}"
        )
    return size


def _rows(path: Path, kind: str) -> Iterator[tuple[int, Any]]:
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise InvalidInputError(f"{path}: not a readable Parquet file ({exc})") from None
        yield from enumerate(table.to_pylist(), start=1)
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if kind == "csv":
            yield from enumerate(csv.DictReader(handle), start=2)
        elif kind == "json":
            data = json.load(handle)
            if not isinstance(data, list):
                raise InvalidInputError(f"{path}: a JSON file must hold a list of questions")
            yield from enumerate(data, start=1)
        else:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, json.loads(line)


def _question_of(row: Any, column: str | None, where: str) -> str | None:
    if isinstance(row, str):
        return row
    if not isinstance(row, dict):
        raise InvalidInputError(f"{where}: expected an object or a string")
    if column is not None:
        if column not in row:
            raise InvalidInputError(f"{where}: no field {column!r} (it has {', '.join(row)})")
        value = row[column]
    else:
        found = next((name for name in QUESTION_FIELDS if name in row), None)
        if found is None:
            raise InvalidInputError(
                f"{where}: no question field among {', '.join(row) or 'none'}; name it with --field"
            )
        value = row[found]
    return value if isinstance(value, str) and value.strip() else None


def read_benchmark(path: Path, column: str | None = None) -> list[BenchmarkQuestion]:
    """The questions of a benchmark file; a clear error for a missing, empty, unknown or
    malformed file."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: unknown format {path.suffix or '(no extension)'!r}; "
            "give a .jsonl, .csv or .parquet file (or .json)"
        )
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    questions: list[BenchmarkQuestion] = []
    try:
        for number, row in _rows(path, kind):
            text = _question_of(row, column, f"{path.name}:{number}")
            if text is not None:
                questions.append(BenchmarkQuestion(f"{path.name}:{number}", text))
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{path}: cannot be read as {kind} ({exc})") from None
    if not questions:
        raise InvalidInputError(f"{path}: holds no benchmark questions")
    return questions


def _units(text: str) -> list[str]:
    key = comparison_key(text)
    return key.split() if " " in key else list(key)


def _grams(units: list[str], size: int) -> Iterable[str]:
    if len(units) < size:
        return []
    return (" ".join(units[i : i + size]) for i in range(len(units) - size + 1))


class BenchmarkIndex:
    """The n-grams (and whole texts) of benchmark questions, each to the first question
    that has it."""

    def __init__(self, questions: Iterable[BenchmarkQuestion], size: int = DEFAULT_NGRAM) -> None:
        self.size = checked_ngram(size)
        self.questions: list[BenchmarkQuestion] = []
        self._grams: dict[str, int] = {}
        self._whole: dict[str, int] = {}
        for question in questions:
            index = len(self.questions)
            self.questions.append(question)
            units = _units(question.text)
            self._whole.setdefault(" ".join(units), index)
            for gram in _grams(units, self.size):
                self._grams.setdefault(gram, index)

    def match(self, text: str) -> tuple[BenchmarkQuestion, str] | None:
        """The benchmark question a text overlaps, and the overlap; None when clean."""
        units = _units(text)
        whole = " ".join(units)
        if whole in self._whole:
            return self.questions[self._whole[whole]], whole
        for gram in _grams(units, self.size):
            index = self._grams.get(gram)
            if index is not None:
                return self.questions[index], gram
        return None


def find_contaminated(
    session: Session, project: Project, index: BenchmarkIndex
) -> list[Contamination]:
    """The project's questions (answered or not) that overlap a benchmark question."""
    paths = TagPaths(session, project.id)
    found: list[Contamination] = []
    rows = session.execute(
        select(Question.id, Question.tag_id, Question.text)
        .where(Question.project_id == project.id)
        .order_by(Question.id)
    ).all()
    for question_id, tag_id, text in rows:
        hit = index.match(text)
        if hit is not None:
            benchmark, overlap = hit
            found.append(
                Contamination(
                    question_id, paths.path(tag_id), text, benchmark.source, benchmark.text, overlap
                )
            )
    _attach_records(session, found)
    return found


def _attach_records(session: Session, found: list[Contamination]) -> None:
    by_question = {item.question_id: item for item in found}
    ids = list(by_question)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Answer.question_id, Answer.id)
            .where(Answer.question_id.in_(ids[start : start + 500]))
            .order_by(Answer.id)
        )
        for question_id, answer_id in rows:
            by_question[question_id].records.append(answer_id)
