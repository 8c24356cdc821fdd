"""Axolotl chat_template: messages, the assistant turn carrying `reasoning_content`."""

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

TURN = pa.struct(
    [("role", pa.string()), ("content", pa.string()), ("reasoning_content", pa.string())]
)


class AxolotlFormat(ExportFormat):
    name = "axolotl"
    description = "chat_template messages with reasoning_content on the assistant turn"
    modes = (ReasoningMode.FIELD, ReasoningMode.INLINE, ReasoningMode.DROP)

    def schema(self, ctx: RenderContext) -> pa.Schema:
        # Every turn has reasoning_content when the reasoning has its field ("" where none),
        # none has it otherwise.
        turn = TURN if ctx.mode is ReasoningMode.FIELD else MESSAGE
        return pa.schema([("messages", pa.list_(turn))])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        field = "reasoning_content" if ctx.mode is ReasoningMode.FIELD else None
        return {"messages": chat_messages(record, ctx, reasoning_field=field)}
