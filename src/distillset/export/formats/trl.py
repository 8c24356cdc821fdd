"""TRL conversational prompt-completion: prompt turns, then the assistant completion."""

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


class TrlFormat(ExportFormat):
    name = "trl"
    description = "TRL conversational prompt / completion"
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)

    def schema(self, ctx: RenderContext) -> pa.Schema:
        return pa.schema([("prompt", pa.list_(MESSAGE)), ("completion", pa.list_(MESSAGE))])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        turns = chat_messages(record, ctx)
        return {"prompt": turns[:-1], "completion": turns[-1:]}
