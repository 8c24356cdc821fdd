"""What every export format shares: the reasoning modes and the rendering context."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import pyarrow as pa

from distillset.review.records import DatasetRecord


class ReasoningMode(StrEnum):
    INLINE = "inline"  # inside the answer, between delimiters
    FIELD = "field"  # in its own field, as the format names it
    DROP = "drop"  # left out


DEFAULT_THINK_OPEN = "<think>\n"
DEFAULT_THINK_CLOSE = "\n</think>\n\n"


@dataclass(frozen=True)
class RenderContext:
    """Everything a format needs besides the record itself."""

    mode: ReasoningMode
    think_open: str = DEFAULT_THINK_OPEN
    think_close: str = DEFAULT_THINK_CLOSE
    system: str | None = None
    language: str = "en"
    fields: dict[str, str] = field(default_factory=dict)  # custom format's field names

    def assistant_text(self, record: DatasetRecord) -> str:
        """The answer, with the reasoning inlined once when the mode says so."""
        if self.mode is ReasoningMode.INLINE and record.reasoning:
            return f"{self.think_open}{record.reasoning}{self.think_close}{record.answer}"
        return record.answer

    def reasoning(self, record: DatasetRecord) -> str | None:
        return record.reasoning or None if self.mode is ReasoningMode.FIELD else None


MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def chat_messages(record: DatasetRecord, ctx: RenderContext) -> list[dict[str, Any]]:
    """system? / user / assistant turns in OpenAI's role/content shape."""
    turns: list[dict[str, Any]] = []
    if ctx.system:
        turns.append({"role": "system", "content": ctx.system})
    turns.append({"role": "user", "content": record.question})
    turns.append({"role": "assistant", "content": ctx.assistant_text(record)})
    return turns


def _conformed(value: Any, kind: pa.DataType, nested: bool) -> Any:
    if pa.types.is_struct(kind):
        return {item.name: _conformed(value.get(item.name), item.type, True) for item in kind}
    if pa.types.is_list(kind) and value is not None:
        return [_conformed(item, kind.value_type, True) for item in value]
    if value is None and nested and pa.types.is_string(kind):
        return ""
    return value


def conform(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """A row holding exactly its schema's fields, in the schema's order, at every depth.

    A text missing inside a turn or other nested record is an empty string: a reader that
    infers types (`datasets` from JSON lines) sees the same types as the Parquet schema,
    where an all-null nested field would be typed null and a key present in some turns only
    would make the turns untyped JSON. A missing top-level value stays an explicit null."""
    return {item.name: _conformed(row.get(item.name), item.type, False) for item in schema}


def nested_columns(schema: pa.Schema) -> list[str]:
    """The columns whose values are records or lists of records (turns): a CSV cell cannot
    hold them in a form a trainer reads."""

    def nested(kind: pa.DataType) -> bool:
        if pa.types.is_list(kind):
            return nested(kind.value_type)
        return pa.types.is_struct(kind)

    return [item.name for item in schema if nested(item.type)]


class ExportFormat(ABC):
    """One target shape of a dataset row: one declared schema (per reasoning mode) that every
    file type follows, JSON lines as much as Parquet."""

    name: ClassVar[str]
    description: ClassVar[str]
    modes: ClassVar[tuple[ReasoningMode, ...]]  # the first is the default
    # The `formatting` LLaMA-Factory reads this shape as, or None when it cannot.
    llamafactory: ClassVar[str | None] = None
    # A row is a preference pair: its record carries a rejected sample (export.pairs).
    pairs: ClassVar[bool] = False

    def check(self, ctx: RenderContext) -> None:  # noqa: B027 - most formats need no checks
        """Refuse options this format cannot honour (raises InvalidInputError)."""

    @abstractmethod
    def schema(self, ctx: RenderContext) -> pa.Schema: ...

    @abstractmethod
    def values(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        """The row's values; ``row`` fits them to the schema (see conform)."""

    def row(self, record: DatasetRecord, ctx: RenderContext) -> dict[str, Any]:
        return conform(self.values(record, ctx), self._schema(ctx))

    def _schema(self, ctx: RenderContext) -> pa.Schema:
        # Built once per choice of options, not once per row.
        key = (ctx.mode, tuple(sorted(ctx.fields.items())))
        cache: dict[Any, pa.Schema] = self.__dict__.setdefault("_schemas", {})
        if key not in cache:
            cache[key] = self.schema(ctx)
        return cache[key]

    def llamafactory_entry(self, ctx: RenderContext) -> dict[str, Any]:
        """The `dataset_info.json` keys describing this shape (besides `file_name`)."""
        raise NotImplementedError(self.name)
