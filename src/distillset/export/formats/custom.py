"""Custom: flat rows whose field names the user chooses."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.domain import InvalidInputError
from distillset.export.formats.base import ExportFormat, ReasoningMode, RenderContext
from distillset.review.records import DatasetRecord

# The record parts a custom row holds, in column order, each named as the user asks.
CUSTOM_FIELDS = ("id", "tag_path", "question", "reasoning", "answer")


def custom_field_names(ctx: RenderContext) -> dict[str, str]:
    names = {part: ctx.fields.get(part, part) for part in CUSTOM_FIELDS}
    if ctx.mode is not ReasoningMode.FIELD:
        del names["reasoning"]
    return names


class CustomFormat(ExportFormat):
    name = "custom"
    description = "flat rows with your own field names (--field question=instruction ...)"
    modes = (ReasoningMode.INLINE, ReasoningMode.FIELD, ReasoningMode.DROP)
    conversational = False

    def check(self, ctx: RenderContext) -> None:
        unknown = sorted(set(ctx.fields) - set(CUSTOM_FIELDS))
        if unknown:
            raise InvalidInputError(
                f"unknown custom field {', '.join(unknown)}: choose from {', '.join(CUSTOM_FIELDS)}"
            )
        names = list(custom_field_names(ctx).values())
        if any(not name.strip() for name in names):
            raise InvalidInputError("a custom field name cannot be empty")
        if len(set(names)) != len(names):
            raise InvalidInputError(f"custom field names must differ: {', '.join(names)}")

    def schema(self, ctx: RenderContext) -> pa.Schema:
        names = custom_field_names(ctx)
        return pa.schema(
            [(name, pa.int64() if part == "id" else pa.string()) for part, name in names.items()]
        )

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": record.id,
            "tag_path": record.tag_path,
            "question": record.question,
            "reasoning": ctx.reasoning(record),
            "answer": ctx.assistant_text(record),
        }
        return {name: values[part] for part, name in custom_field_names(ctx).items()}
