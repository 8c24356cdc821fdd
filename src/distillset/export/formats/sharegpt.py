"""ShareGPT: `conversations` of from/value turns, system prompt in its own column."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.export.formats.base import (
    ExportFormat,
    ReasoningMode,
    RenderContext,
    record_turns,
)
from distillset.review.records import DatasetRecord

TURN = pa.struct([("from", pa.string()), ("value", pa.string())])


class ShareGptFormat(ExportFormat):
    name = "sharegpt"
    description = "conversations with from/value turns (human / gpt) and a system column"
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)
    llamafactory = "sharegpt"

    def schema(self, ctx: RenderContext) -> pa.Schema:
        return pa.schema([("conversations", pa.list_(TURN)), ("system", pa.string())])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        speaker = {"user": "human", "assistant": "gpt"}
        return {
            "conversations": [
                {"from": speaker[turn.role], "value": ctx.turn_text(turn.content, turn.reasoning)}
                for turn in record_turns(record, ctx)
            ],
            "system": ctx.system or "",
        }

    def llamafactory_entry(self, ctx: RenderContext) -> dict[str, Any]:
        return {
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
            },
        }
