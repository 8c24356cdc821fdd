"""Preference pairs (chosen / rejected samples of one question): TRL's conversational DPO
shape, and LLaMA-Factory's alpaca ranking shape."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.export.formats.base import (
    MESSAGE,
    ExportFormat,
    ReasoningMode,
    RenderContext,
    chat_messages,
)
from distillset.review.records import DatasetRecord


def _rejected(record: DatasetRecord) -> DatasetRecord:
    rejected = getattr(record, "rejected", None)
    if rejected is None:
        raise ValueError(f"record {record.id} is not a preference pair")
    return rejected


class DpoFormat(ExportFormat):
    name = "dpo"
    description = "TRL conversational preference: prompt / chosen / rejected (best vs worst sample)"
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)
    pairs = True
    conversational = False

    def schema(self, ctx: RenderContext) -> pa.Schema:
        turns = pa.list_(MESSAGE)
        return pa.schema([("prompt", turns), ("chosen", turns), ("rejected", turns)])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        turns = chat_messages(record, ctx)
        rejected = _rejected(record)
        return {
            "prompt": turns[:-1],
            "chosen": turns[-1:],
            "rejected": [{"role": "assistant", "content": ctx.assistant_text(rejected)}],
        }


class RankingFormat(ExportFormat):
    name = "ranking"
    description = "LLaMA-Factory ranking: instruction / input / chosen / rejected / system"
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)
    llamafactory = "alpaca"
    pairs = True
    conversational = False

    def schema(self, ctx: RenderContext) -> pa.Schema:
        names = ("instruction", "input", "chosen", "rejected", "system")
        return pa.schema([(name, pa.string()) for name in names])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        return {
            "instruction": record.question,
            "input": "",
            "chosen": ctx.assistant_text(record),
            "rejected": ctx.assistant_text(_rejected(record)),
            "system": ctx.system or "",
        }

    def llamafactory_entry(self, ctx: RenderContext) -> dict[str, Any]:
        return {
            "formatting": "alpaca",
            "ranking": True,
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "chosen": "chosen",
                "rejected": "rejected",
                "system": "system",
            },
        }
