"""`distillset export NAME --format F --output PATH [options]`."""

from __future__ import annotations

from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    print_json,
    printable,
    say,
    state_of,
)
from distillset.cli.record_filters import OUTGOING_FILTERS, FilterOptions, filter_options
from distillset.domain import field_pairs
from distillset.export import (
    CUSTOM_FIELDS,
    DEFAULT_THINK_CLOSE,
    DEFAULT_THINK_OPEN,
    FORMATS,
    ExportOptions,
    export_dataset,
)

FORMAT_HELP = "; ".join(
    f"{name} ({'/'.join(mode.value for mode in fmt.modes)})" for name, fmt in FORMATS.items()
)


def unescape(text: str) -> str:
    r"""Delimiters typed in a shell: `\n` and `\t` mean a newline and a tab."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


@app.command("export")
@filter_options(*OUTGOING_FILTERS)
def export_command(
    ctx: typer.Context,
    name: str = ProjectArgument,
    fmt: str = typer.Option("alpaca", "--format", "-f", help=f"Row format: {FORMAT_HELP}."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File (.json .jsonl .csv .parquet) or HF directory."
    ),
    file_format: str | None = typer.Option(
        None,
        "--file-format",
        help="json, jsonl, csv (flat formats: alpaca, custom, raw), parquet or hf "
        "(default: from the suffix).",
    ),
    reasoning: str | None = typer.Option(
        None,
        "--reasoning",
        help="inline (in the answer), field (its own field) or drop; default: inline, or "
        "field for formats without inline (axolotl, harmony, raw).",
    ),
    think_open: str = typer.Option(
        DEFAULT_THINK_OPEN.replace("\n", "\\n"), "--think-open", help="Inline opening."
    ),
    think_close: str = typer.Option(
        DEFAULT_THINK_CLOSE.replace("\n", "\\n"), "--think-close", help="Inline closing."
    ),
    system: str | None = typer.Option(
        None,
        "--system",
        help="System prompt for every record (default: the one each record's teacher was "
        "sent; the project's for records stored before distillset kept it).",
    ),
    field: list[str] = typer.Option(
        [],
        "--field",
        help=f"custom format: PART=NAME for PART in {', '.join(CUSTOM_FIELDS)} (repeatable).",
    ),
    filters: FilterOptions = FilterOptions(),
    balanced: int | None = typer.Option(
        None, "--balanced", help="At most K records per leaf tag (or per --balanced-by)."
    ),
    balanced_by: str = typer.Option(
        "tag", "--balanced-by", help="What --balanced counts per: tag or difficulty."
    ),
    min_difficulty: int | None = typer.Option(
        None, "--min-difficulty", help="Only questions rated at least this hard (1-10)."
    ),
    all_samples: bool = typer.Option(
        False,
        "--all-samples",
        help="Every sample of a question with several (default: its chosen one, else its first).",
    ),
    margin: float = typer.Option(
        1.0,
        "--margin",
        help="dpo and ranking: the least score gap between a question's best and worst sample.",
    ),
    split: str | None = typer.Option(
        None, "--split", help="Held-out split stratified by tag, e.g. eval=0.05 (second file)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the split."),
    llamafactory: Path | None = typer.Option(
        None, "--llamafactory", help="LLaMA-Factory data dir: write there + dataset_info.json."
    ),
    dataset_name: str | None = typer.Option(
        None, "--dataset-name", help="Name in dataset_info.json (default: the project name)."
    ),
    push_to_hub: str | None = typer.Option(
        None,
        "--push-to-hub",
        # Rich reads "[hf]" as markup and drops it; the backslash keeps it text.
        help=r"Upload to this Hub dataset repo (needs distillset\[hf]).",
    ),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo private."),
    batch_size: int = typer.Option(2000, "--batch-size", help="Records read per batch."),
    soft_labels: bool = typer.Option(
        False,
        "--soft-labels",
        help="Add each record's soft labels (token ids, top-K alternatives and logprobs, the "
        "tokenizer) in a soft_labels column: jsonl, json, parquet or hf (docs/soft-labels.md).",
    ),
    dataset_type: str | None = typer.Option(
        None,
        "--dataset-type",
        help="single, multi (conversations) or both (default: the single records, and the "
        "conversations where the format holds them).",
    ),
    reasoning_turns: str = typer.Option(
        "every",
        "--reasoning-turns",
        help="In a conversation, the assistant turns that keep their reasoning: every or last.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Export the dataset in the format a fine-tuning tool reads.

    By default every record is exported; filters narrow it down.
    """
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        options = ExportOptions(
            format=fmt,
            output=output,
            file_format=file_format,
            reasoning=reasoning,
            think_open=unescape(think_open),
            think_close=unescape(think_close),
            system=system,
            fields=field_pairs(field),
            record_filter=filters.record_filter(session, project, min_difficulty=min_difficulty),
            balanced=balanced,
            balanced_by=balanced_by,
            all_samples=all_samples,
            margin=margin,
            split=split,
            seed=seed,
            batch_size=batch_size,
            llamafactory_dir=llamafactory,
            dataset_name=dataset_name,
            push_to_hub=push_to_hub,
            private=private,
            soft_labels=soft_labels,
            dataset_type=dataset_type,
            reasoning_turns=reasoning_turns,
        )
        result = export_dataset(session, project, options)
    for warning in result.warnings:
        typer.echo(f"warning: {printable(warning)}", err=True)
    if as_json:
        print_json(result.as_dict())
        return
    for split_name, path in result.outputs.items():
        say(f"{split_name}: {result.split_records.get(split_name, 0)} records -> {path}")
    if result.dataset_info:
        say(f"registered in {result.dataset_info}")
    if result.soft_labels is not None:
        say(f"soft labels: {result.soft_labels} of {result.records} records")
    if result.hub_url:
        say(f"pushed to the Hub: {result.hub_url}")
    if not result.outputs and not result.hub_url:
        say(f"exported {result.records} records")
