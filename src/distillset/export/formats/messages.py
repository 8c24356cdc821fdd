"""OpenAI chat fine-tuning: {"messages": [system?, user, assistant]} with role/content only."""

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


class MessagesFormat(ExportFormat):
    name = "messages"
    description = "OpenAI chat fine-tuning lines: messages with role / content"
    # OpenAI's schema has no reasoning field on a message.
    modes = (ReasoningMode.INLINE, ReasoningMode.DROP)
    llamafactory = "sharegpt"

    def schema(self, ctx: RenderContext) -> pa.Schema:
        return pa.schema([("messages", pa.list_(MESSAGE))])

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        return {"messages": chat_messages(record, ctx)}

    def llamafactory_entry(self, ctx: RenderContext) -> dict[str, Any]:
        # LLaMA-Factory reads OpenAI-style messages as sharegpt with role/content tags.
        return {
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
