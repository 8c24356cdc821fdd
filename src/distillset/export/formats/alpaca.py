"""Alpaca: instruction / input / output / system (LLaMA-Factory's `alpaca` formatting)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.export.formats.base import ExportFormat, ReasoningMode, RenderContext
from distillset.review.records import DatasetRecord


class AlpacaFormat(ExportFormat):
    name = "alpaca"
    description = "instruction / input / output / system"
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)
    conversational = False
    llamafactory = "alpaca"

    def schema(self, ctx: RenderContext) -> pa.Schema:
        return pa.schema(
            [(name, pa.string()) for name in ("instruction", "input", "output", "system")]
        )

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        return {
            "instruction": record.question,
            "input": "",
            "output": ctx.assistant_text(record),
            "system": ctx.system or "",
        }

    def llamafactory_entry(self, ctx: RenderContext) -> dict[str, Any]:
        return {
            "formatting": "alpaca",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
            },
        }
