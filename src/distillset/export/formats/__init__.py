"""The export formats, one module each, by name."""

from __future__ import annotations

from distillset.domain import InvalidInputError
from distillset.export.formats.alpaca import AlpacaFormat
from distillset.export.formats.axolotl import AxolotlFormat
from distillset.export.formats.base import (
    DEFAULT_THINK_CLOSE,
    DEFAULT_THINK_OPEN,
    REASONING_TURNS,
    ExportFormat,
    ReasoningMode,
    RenderContext,
    nested_columns,
)
from distillset.export.formats.custom import CUSTOM_FIELDS, CustomFormat
from distillset.export.formats.harmony import HarmonyFormat
from distillset.export.formats.messages import MessagesFormat
from distillset.export.formats.preference import DpoFormat, RankingFormat
from distillset.export.formats.raw import RawFormat
from distillset.export.formats.sharegpt import ShareGptFormat
from distillset.export.formats.trl import TrlFormat

FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        AlpacaFormat(),
        ShareGptFormat(),
        MessagesFormat(),
        TrlFormat(),
        AxolotlFormat(),
        HarmonyFormat(),
        CustomFormat(),
        RawFormat(),
        DpoFormat(),
        RankingFormat(),
    )
}


def get_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown export format {name!r}: choose one of {', '.join(FORMATS)}"
        ) from None


def resolve_mode(fmt: ExportFormat, mode: ReasoningMode | str | None) -> ReasoningMode:
    """The reasoning mode to use: the asked one if the format can hold it, else its default."""
    if mode is None:
        return fmt.modes[0]
    try:
        chosen = ReasoningMode(mode)
    except ValueError:
        raise InvalidInputError(
            f"unknown reasoning mode {mode!r}: choose inline, field or drop"
        ) from None
    if chosen not in fmt.modes:
        raise InvalidInputError(
            f"format {fmt.name!r} cannot hold reasoning as {chosen.value!r}; "
            f"it takes {', '.join(m.value for m in fmt.modes)}"
        )
    return chosen


__all__ = [
    "CUSTOM_FIELDS",
    "DEFAULT_THINK_CLOSE",
    "DEFAULT_THINK_OPEN",
    "ExportFormat",
    "FORMATS",
    "REASONING_TURNS",
    "ReasoningMode",
    "RenderContext",
    "get_format",
    "nested_columns",
    "resolve_mode",
]
