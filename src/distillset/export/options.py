"""Export options, and checking them all before anything is written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from distillset.domain import DATASET_TYPES, InvalidInputError
from distillset.export.formats import (
    DEFAULT_THINK_CLOSE,
    DEFAULT_THINK_OPEN,
    FORMATS,
    REASONING_TURNS,
    ExportFormat,
    RenderContext,
    get_format,
    nested_columns,
    resolve_mode,
)
from distillset.export.pairs import DEFAULT_MARGIN, check_margin
from distillset.export.selection import SplitSpec
from distillset.export.soft_labels import with_soft_labels
from distillset.export.writers import SUFFIXES, FileFormat
from distillset.review.conversations import applies_to_conversations
from distillset.review.filters import RecordFilter

MAX_BATCH_SIZE = 100_000
BALANCED_BY = ("tag", "difficulty")


@dataclass(frozen=True)
class ExportOptions:
    """What to export, how, and where (see `distillset export --help`)."""

    format: str = "alpaca"
    output: Path | None = None
    file_format: str | None = None  # json, jsonl, csv, parquet, hf; default from the suffix
    reasoning: str | None = None  # inline, field, drop; default: the format's own default
    think_open: str = DEFAULT_THINK_OPEN
    think_close: str = DEFAULT_THINK_CLOSE
    # For every record; default: each record's own (see export.service.RecordContexts)
    system: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    record_filter: RecordFilter = field(default_factory=RecordFilter)
    balanced: int | None = None
    split: str | None = None  # e.g. "eval=0.05"
    seed: int = 42
    batch_size: int = 2_000
    llamafactory_dir: Path | None = None
    dataset_name: str | None = None
    push_to_hub: str | None = None
    private: bool = False
    # Add each record's soft labels (the teacher's top-K token distributions) as a column.
    soft_labels: bool = False
    # single, multi or both; None: the single records, and the conversations too where the
    # format holds them and the filter applies to them.
    dataset_type: str | None = None
    # A conversation's assistant turns that keep their reasoning: every one, or the last.
    reasoning_turns: str = "every"
    # Every sample of a question with several; by default only its chosen one (else its
    # first), so a best-of-N project exports one record per question.
    all_samples: bool = False
    # Preference formats (dpo, ranking): the least score gap between the best and the
    # worst sample of a question for it to give a pair.
    margin: float = DEFAULT_MARGIN
    # What --balanced counts per: each leaf tag, or each difficulty rating.
    balanced_by: str = "tag"

    @property
    def records(self) -> RecordFilter:
        """The records exported: the filter's, one per question unless all samples are
        asked for (or the filter says itself)."""
        if self.all_samples or self.record_filter.one_per_question is not None:
            return self.record_filter
        return replace(self.record_filter, one_per_question=True)


@dataclass(frozen=True)
class ExportPlan:
    """Checked options: every decision made, nothing written yet."""

    fmt: ExportFormat
    ctx: RenderContext
    file_format: FileFormat
    output: Path | None  # None: nothing kept locally (push to the Hub only)
    split: SplitSpec | None
    dataset_name: str
    soft_labels: bool = False
    singles: bool = True  # the export holds single records
    conversations: bool = False  # the export holds conversations

    @property
    def schema(self) -> pa.Schema:
        """The rows' schema: the format's, and the soft labels column when asked for."""
        schema = self.fmt.schema(self.ctx)
        return with_soft_labels(schema) if self.soft_labels else schema


def slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "_", text).strip("_").lower() or "dataset"


def split_path(path: Path, split: SplitSpec) -> Path:
    """`data.jsonl` -> `data.eval.jsonl`; a directory gets a sibling `data-eval`."""
    if path.suffix:
        return path.with_name(f"{path.stem}.{split.name}{path.suffix}")
    return path.with_name(f"{path.name}-{split.name}")


def _file_format(options: ExportOptions, output: Path | None) -> FileFormat:
    if options.file_format is not None:
        try:
            return FileFormat(options.file_format)
        except ValueError:
            choices = ", ".join(f.value for f in FileFormat)
            raise InvalidInputError(
                f"unknown file format {options.file_format!r}: choose one of {choices}"
            ) from None
    if output is None:
        return FileFormat.PARQUET if options.push_to_hub else FileFormat.JSON
    try:
        return SUFFIXES[output.suffix.lower()]
    except KeyError:
        raise InvalidInputError(
            f"cannot tell the file format of {str(output)!r}: use a .json, .jsonl, .csv or "
            ".parquet name, or --file-format (hf for a datasets directory)"
        ) from None


def check_writable(path: Path, *, directory: bool = False) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise InvalidInputError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write {str(path)!r}: {str(parent)!r} is not writable")
    if path.is_dir() and not directory:
        raise InvalidInputError(f"cannot write {str(path)!r}: it is a directory")
    if directory and path.exists() and not path.is_dir():
        raise InvalidInputError(f"cannot write a dataset directory over the file {str(path)!r}")
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidInputError(f"cannot write {str(path)!r}: the file is read-only")


def plan_export(
    options: ExportOptions,
    *,
    project_name: str,
    language: str,
    system: str | None,
    stream: bool = False,
) -> ExportPlan:
    """Check every option; raise InvalidInputError with a clear message on the first bad one.
    ``stream``: the rows go to a stream (a download), so no output is needed."""
    fmt = get_format(options.format)
    mode = resolve_mode(fmt, options.reasoning)
    if not 1 <= options.batch_size <= MAX_BATCH_SIZE:
        raise InvalidInputError(f"batch size must be between 1 and {MAX_BATCH_SIZE}")
    if options.balanced is not None and options.balanced < 1:
        raise InvalidInputError("--balanced takes a count of at least 1")
    if options.balanced_by not in BALANCED_BY:
        raise InvalidInputError(
            f"unknown --balanced-by {options.balanced_by!r}: choose {' or '.join(BALANCED_BY)}"
        )
    if not options.think_open or not options.think_close:
        raise InvalidInputError("reasoning delimiters cannot be empty")
    if options.reasoning_turns not in REASONING_TURNS:
        raise InvalidInputError(
            f"unknown reasoning turns {options.reasoning_turns!r}: choose every or last"
        )
    ctx = RenderContext(
        mode=mode,
        think_open=options.think_open,
        think_close=options.think_close,
        system=options.system if options.system is not None else system,
        language=language,
        fields=dict(options.fields),
        reasoning_turns=options.reasoning_turns,
    )
    fmt.check(ctx)
    if fmt.pairs:
        check_margin(options.margin)
        if options.soft_labels:
            raise InvalidInputError(
                "preference pairs carry no soft labels: leave --soft-labels out"
            )
    singles, conversations = _dataset_types(options, fmt)
    split = SplitSpec.parse(options.split) if options.split else None
    name = slug(options.dataset_name or project_name)
    output = options.output
    if output is None and options.llamafactory_dir is not None:
        output = options.llamafactory_dir / f"{name}.{options.file_format or 'json'}"
    if output is None and not options.push_to_hub and not stream:
        raise InvalidInputError(
            "say where to write: --output PATH, --llamafactory DIR or --push-to-hub"
        )
    file_format = _file_format(options, output)
    if options.soft_labels and file_format is FileFormat.CSV:
        raise InvalidInputError(
            "a CSV file cannot hold soft labels (lists of token ids and logprobs per record): "
            "write .jsonl, .json or .parquet, or --file-format hf"
        )
    if options.soft_labels:
        with_soft_labels(fmt.schema(ctx))  # a custom field named soft_labels is refused
    if file_format is FileFormat.CSV:
        _check_flat(fmt, ctx)
    if options.push_to_hub and file_format is not FileFormat.PARQUET:
        raise InvalidInputError(
            "--push-to-hub uploads Parquet; leave --file-format out or set parquet"
        )
    if options.llamafactory_dir is not None:
        _check_llamafactory(fmt, file_format, options.llamafactory_dir)
    if output is not None:
        is_dir = file_format is FileFormat.HF
        check_writable(output, directory=is_dir)
        if split is not None and not is_dir:
            check_writable(split_path(output, split))
    return ExportPlan(
        fmt, ctx, file_format, output, split, name, options.soft_labels, singles, conversations
    )


def _dataset_types(options: ExportOptions, fmt: ExportFormat) -> tuple[bool, bool]:
    """Whether the export holds single records, and whether conversations (see
    ExportOptions.dataset_type); a choice the format or the filter cannot honour is refused."""
    chosen = options.dataset_type
    if chosen is None:
        fits = fmt.conversational and applies_to_conversations(options.record_filter)
        return True, fits and not options.soft_labels
    if chosen not in DATASET_TYPES:
        raise InvalidInputError(
            f"unknown dataset type {chosen!r}: choose {', '.join(DATASET_TYPES)}"
        )
    if chosen == "single":
        return True, False
    if not fmt.conversational:
        conversational = ", ".join(name for name, f in FORMATS.items() if f.conversational)
        raise InvalidInputError(
            f"the {fmt.name!r} format holds one exchange per row, not conversations: "
            f"choose {conversational}, or --dataset-type single"
        )
    if options.soft_labels:
        raise InvalidInputError(
            "soft labels are exported with single records only: add --dataset-type single"
        )
    if not applies_to_conversations(options.record_filter):
        raise InvalidInputError(
            "the filter names conditions only single records have (reasoning, model, "
            "search, label): drop them, or export --dataset-type single"
        )
    return chosen == "both", True


def csv_formats() -> list[str]:
    """The formats whose rows are flat (no turns or other nested records): what CSV holds."""
    return [
        name
        for name, fmt in FORMATS.items()
        if not nested_columns(fmt.schema(RenderContext(mode=fmt.modes[0])))
    ]


def _check_flat(fmt: ExportFormat, ctx: RenderContext) -> None:
    """CSV cells hold text: a column of turns would be a JSON string no trainer reads."""
    nested = nested_columns(fmt.schema(ctx))
    if nested:
        raise InvalidInputError(
            f"a CSV file cannot hold the {fmt.name!r} format: its {', '.join(nested)} "
            f"column holds nested records; write .jsonl, .json or .parquet, or choose a "
            f"format CSV can hold: {', '.join(csv_formats())}"
        )


def _check_llamafactory(fmt: ExportFormat, file_format: FileFormat, directory: Path) -> None:
    if fmt.llamafactory is None:
        raise InvalidInputError(
            f"LLaMA-Factory reads alpaca, sharegpt, messages or ranking exports, not {fmt.name!r}"
        )
    readable = {FileFormat.JSON, FileFormat.JSONL, FileFormat.PARQUET}
    if fmt.name == "alpaca":
        readable.add(FileFormat.CSV)
    if file_format not in readable:
        raise InvalidInputError(
            f"LLaMA-Factory cannot read {fmt.name} rows from {file_format.value} files"
        )
    if not directory.is_dir():
        raise InvalidInputError(f"--llamafactory {str(directory)!r} is not a directory")
    check_writable(directory / "dataset_info.json")
