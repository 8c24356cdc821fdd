"""Raw: every stored field of the record, for archiving or your own processing."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from distillset.export.formats.base import ExportFormat, ReasoningMode, RenderContext
from distillset.review.records import DatasetRecord

RAW_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("question_id", pa.int64()),
        ("tag_id", pa.int64()),
        ("tag_path", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("reasoning", pa.string()),
        ("model", pa.string()),
        ("variant", pa.int64()),
        ("finish_reason", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("latency_ms", pa.float64()),
        ("confirmed", pa.bool_()),
        ("score", pa.float64()),
        ("score_reason", pa.string()),
        ("scored_at", pa.string()),
        ("note", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("question_model", pa.string()),
        ("created_at", pa.string()),
        ("question_origin", pa.string()),
        ("question_created_at", pa.string()),
        # What the teacher was sent; the sampling parameters as a JSON object's text.
        ("system_prompt", pa.string()),
        ("prompt", pa.string()),
        ("sampling", pa.string()),
        # What became of the soft labels asked for (captured, absent, refused...), or null.
        ("soft_label_status", pa.string()),
        # The question's difficulty rating (1-10), its reason and when (null: unrated).
        ("difficulty", pa.int64()),
        ("difficulty_reason", pa.string()),
        ("rated_at", pa.string()),
        # Best-of-N selection: the chosen sample, how it was chosen, the vote's agreement.
        ("chosen", pa.bool_()),
        ("selected_by", pa.string()),
        ("agreement", pa.float64()),
    ]
)


class RawFormat(ExportFormat):
    name = "raw"
    description = "every stored field of each record"
    # Stored fields as they are: the reasoning stays its own field (or is dropped).
    modes = (ReasoningMode.FIELD, ReasoningMode.DROP)
    conversational = False

    def schema(self, ctx: RenderContext) -> pa.Schema:
        if ctx.mode is ReasoningMode.DROP:
            return RAW_SCHEMA.remove(RAW_SCHEMA.get_field_index("reasoning"))
        return RAW_SCHEMA

    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        data = record.as_dict(with_prompt=True)
        if data["sampling"] is not None:
            data["sampling"] = json.dumps(data["sampling"], ensure_ascii=False, sort_keys=True)
        if ctx.mode is ReasoningMode.DROP:
            del data["reasoning"]
        return data
