"""Harmony / Multilingual-Thinking: developer, user, analysis, final and `messages` whose
assistant turn carries `thinking` (the shape of HuggingFaceH4/Multilingual-Thinking)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.export.formats.base import (
    ExportFormat,
    ReasoningMode,
    RenderContext,
    record_turns,
)
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
        """A conversation's columns describe its last exchange; `messages` holds it all."""
        language = language_name(ctx.language)
        developer = ctx.system or ""
        system = f"reasoning language: {language}"
        if developer:
            system += f"\n\n{developer}"
        messages: list[dict[str, Any]] = [{"content": system, "role": "system"}]
        for turn in record_turns(record, ctx):
            message: dict[str, Any] = {"content": turn.content, "role": turn.role}
            if turn.role == "assistant":
                # Thinking is "" where there is none (see conform), as `analysis` is.
                message["thinking"] = ctx.turn_reasoning(turn.reasoning)
            messages.append(message)
        last_user = [m["content"] for m in messages if m["role"] == "user"][-1]
        return {
            "reasoning_language": language,
            "developer": developer,
            "user": last_user,
            "analysis": messages[-1].get("thinking") or "",
            "final": messages[-1]["content"],
            "messages": messages,
        }
