"""Harmony / Multilingual-Thinking: developer, user, analysis, final and `messages` whose
assistant turn carries `thinking` (the shape of HuggingFaceH4/Multilingual-Thinking)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.export.formats.base import ExportFormat, ReasoningMode, RenderContext
from distillset.prompts import language_name
from distillset.review.records import DatasetRecord

TURN = pa.struct([("content", pa.string()), ("role", pa.string()), ("thinking", pa.string())])


class HarmonyFormat(ExportFormat):
    name = "harmony"
    description = "Multilingual-Thinking: developer / user / analysis / final / messages"
    # The analysis channel is the reasoning's own place; inlining it would duplicate it.
    modes = (ReasoningMode.FIELD, ReasoningMode.DROP)

    def schema(self, ctx: RenderContext) -> pa.Schema:
        return pa.schema(
            [
                ("reasoning_language", pa.string()),
                ("developer", pa.string()),
                ("user", pa.string()),
                ("analysis", pa.string()),
                ("final", pa.string()),
                ("messages", pa.list_(TURN)),
            ]
        )

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        language = language_name(ctx.language)
        developer = ctx.system or ""
        analysis = ctx.reasoning(record)
        system = f"reasoning language: {language}"
        if developer:
            system += f"\n\n{developer}"
        return {
            "reasoning_language": language,
            "developer": developer,
            "user": record.question,
            "analysis": analysis or "",
            "final": record.answer,
            "messages": [
                # Thinking is "" where there is none (see conform), as `analysis` is.
                {"content": system, "role": "system"},
                {"content": record.question, "role": "user"},
                {"content": record.answer, "role": "assistant", "thinking": analysis},
            ],
        }
