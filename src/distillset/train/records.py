"""The records a training or evaluation run reads: the export's, with its filters and its
held-out split (the same records `distillset export` would write with the same options)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from distillset.export import (
    DEFAULT_THINK_CLOSE,
    DEFAULT_THINK_OPEN,
    ExportOptions,
    export_dataset,
)
from distillset.review.filters import RecordFilter
from distillset.store import Project

EVAL_SPLIT = "eval"
ROWS_PER_BATCH = 64


@dataclass
class Record:
    """One record as a trainer sees it: the turns, and the teacher's soft labels if any."""

    id: int
    tag_path: str
    question: str
    answer: str
    reasoning: str | None
    system: str | None
    soft_labels: dict[str, Any] | None = None

    def messages(self, *, reasoning: str) -> list[dict[str, Any]]:
        """system? / user / assistant, with the reasoning as ``reasoning`` says (REASONING_MODES):
        inline in the answer between think delimiters (a reasoning model's template may take it
        out again and write it its own way), as the assistant's ``reasoning_content`` field
        (what Qwen3- and DeepSeek-style templates read), or dropped."""
        turns: list[dict[str, Any]] = []
        if self.system:
            turns.append({"role": "system", "content": self.system})
        turns.append({"role": "user", "content": self.question})
        assistant: dict[str, Any] = {"role": "assistant", "content": self.answer}
        if reasoning == "inline" and self.reasoning:
            assistant["content"] = inline_reasoning(self.reasoning, self.answer)
        elif reasoning == "field" and self.reasoning:
            assistant["reasoning_content"] = self.reasoning
        turns.append(assistant)
        return turns


def inline_reasoning(reasoning: str, answer: str) -> str:
    """The answer with the reasoning before it, delimited as `export --reasoning inline` does."""
    return f"{DEFAULT_THINK_OPEN}{reasoning}{DEFAULT_THINK_CLOSE}{answer}"


@dataclass
class RecordSplits:
    train: list[Record] = field(default_factory=list)
    held_out: list[Record] = field(default_factory=list)

    @property
    def with_soft_labels(self) -> int:
        return sum(record.soft_labels is not None for record in self.train)


def read_records(
    session: Session,
    project: Project,
    record_filter: RecordFilter,
    *,
    balanced: int | None,
    eval_fraction: float,
    seed: int,
    soft_labels: bool,
) -> RecordSplits:
    """The matching records, split as the export splits them (per tag, seeded)."""
    with tempfile.TemporaryDirectory(prefix="distillset-train-") as work:
        output = Path(work) / "records.parquet"
        options = ExportOptions(
            format="raw",
            output=output,
            file_format="parquet",
            reasoning="field",
            record_filter=record_filter,
            balanced=balanced,
            split=f"{EVAL_SPLIT}={eval_fraction}" if eval_fraction > 0 else None,
            seed=seed,
            soft_labels=soft_labels,
        )
        result = export_dataset(session, project, options)
        splits = RecordSplits()
        for name, path in result.outputs.items():
            target = splits.held_out if name == EVAL_SPLIT else splits.train
            # A few rows at a time: a record's soft labels unpack to tokens x K values,
            # kept as compact arrays, never as Python lists of the whole file.
            for batch in pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_BATCH):
                target.extend(_record(row) for row in batch.to_pylist())
    return splits


def compact_soft_labels(labels: dict[str, Any] | None) -> dict[str, Any] | None:
    """The export's soft labels with the top K as arrays ([tokens, K]: ids as int32 padded
    with 0, logprobs as float32 padded with -inf) and, when it has ids, without the
    alternatives' text."""
    if labels is None:
        return None
    top_ids, top_logprobs = labels.get("top_ids"), labels.get("top_logprobs") or []
    k = max((len(row) for row in top_logprobs), default=0)
    ids = np.zeros((len(top_logprobs), k), dtype=np.int32)
    logprobs = np.full((len(top_logprobs), k), -np.inf, dtype=np.float32)
    for position, row in enumerate(top_logprobs):
        logprobs[position, : len(row)] = row
        if top_ids is not None:
            ids[position, : len(row)] = top_ids[position]
    # The alternatives' text is kept only without ids: the trainer maps it to the student's
    # ids then (train.token_text).
    drop = "top_tokens" if top_ids is not None else None
    return {
        **{key: value for key, value in labels.items() if key != drop},
        "top_ids": ids if top_ids is not None else None,
        "top_logprobs": logprobs,
    }


def _record(row: dict[str, Any]) -> Record:
    return Record(
        id=int(row["id"]),
        tag_path=row.get("tag_path") or "",
        question=row["question"],
        answer=row["answer"],
        reasoning=row.get("reasoning") or None,
        system=row.get("system_prompt") or None,
        soft_labels=compact_soft_labels(row.get("soft_labels")),
    )
