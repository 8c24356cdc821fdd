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


# Which assistant turns of a conversation keep their reasoning: every one, or only the last
# (as Qwen3-style chat templates expect: earlier turns' thinking is stripped in training).
REASONING_TURNS = ("every", "last")

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
    reasoning_turns: str = "every"  # see REASONING_TURNS

    def assistant_text(self, record: DatasetRecord) -> str:
        """The answer, with the reasoning inlined once when the mode says so."""
        return self.turn_text(record.answer, record.reasoning)

    def turn_text(self, content: str, reasoning: str | None) -> str:
        if self.mode is ReasoningMode.INLINE and reasoning:
            return f"{self.think_open}{reasoning}{self.think_close}{content}"
        return content

    def reasoning(self, record: DatasetRecord) -> str | None:
        return record.reasoning or None if self.mode is ReasoningMode.FIELD else None

    def turn_reasoning(self, reasoning: str | None) -> str | None:
        return reasoning or None if self.mode is ReasoningMode.FIELD else None


@dataclass(frozen=True)
class ChatTurn:
    """A turn as an export writes it: its reasoning already chosen (kept or not)."""

    role: str
    content: str
    reasoning: str | None


def record_turns(record: DatasetRecord, ctx: RenderContext) -> list[ChatTurn]:
    """The record's user and assistant turns (a single record: its question and answer),
    each assistant turn with its reasoning where ``ctx.reasoning_turns`` keeps it."""
    if not record.turns:
        return [
            ChatTurn("user", record.question, None),
            ChatTurn("assistant", record.answer, record.reasoning),
        ]
    last = max(i for i, (role, _c, _r) in enumerate(record.turns) if role == "assistant")
    every = ctx.reasoning_turns == "every"
    return [
        ChatTurn(role, content, reasoning if role == "assistant" and (every or i == last) else None)
        for i, (role, content, reasoning) in enumerate(record.turns)
    ]


MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def chat_messages(
    record: DatasetRecord, ctx: RenderContext, *, reasoning_field: str | None = None
) -> list[dict[str, Any]]:
    """system? / user / assistant turns in OpenAI's role/content shape (every turn of a
    conversation); with ``reasoning_field`` each assistant turn carries its reasoning there
    when the mode keeps it apart."""
    turns: list[dict[str, Any]] = []
    if ctx.system:
        turns.append({"role": "system", "content": ctx.system})
    for turn in record_turns(record, ctx):
        if turn.role != "assistant":
            turns.append({"role": turn.role, "content": turn.content})
            continue
        message: dict[str, Any] = {
            "role": "assistant",
            "content": ctx.turn_text(turn.content, turn.reasoning),
        }
        if reasoning_field is not None:
            message[reasoning_field] = ctx.turn_reasoning(turn.reasoning)
        turns.append(message)
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
    # Whether a row holds a whole conversation (many turns), not only one exchange.
    conversational: ClassVar[bool] = True
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
