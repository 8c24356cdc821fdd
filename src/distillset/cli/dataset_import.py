"""`distillset dataset import NAME FILE`: a dataset file's records as questions and answers."""

from __future__ import annotations

from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.common import JsonOption, ProjectArgument, report, state_of
from distillset.cli.dataset import dataset_app
from distillset.domain import field_pairs
from distillset.review import (
    DEFAULT_IMPORT_TAG,
    IMPORT_FORMATS,
    SHAPES,
    import_records,
    read_dataset,
)


@dataset_app.command("import")
def dataset_import(
    ctx: typer.Context,
    name: str = ProjectArgument,
    path: Path = typer.Argument(
        ..., help="A .json, .jsonl, .csv or .parquet file, or a datasets directory."
    ),
    tag: str | None = typer.Option(
        None,
        "--tag",
        help=f"Put the records under this tag ('A > B', added when missing); default: a "
        f"top-level tag {DEFAULT_IMPORT_TAG!r}.",
    ),
    shape: str | None = typer.Option(
        None, "--shape", help=f"Row shape when it cannot be told: {', '.join(SHAPES)}."
    ),
    field: list[str] = typer.Option(
        [],
        "--field",
        help="Which column holds a part, in the custom shape: question=COL, answer=COL, "
        "reasoning=COL (repeatable; without an answer column the questions come alone).",
    ),
    file_format: str | None = typer.Option(
        None, "--file-format", help=f"File type ({', '.join(IMPORT_FORMATS)}); default: by name."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import a dataset file (Alpaca, ShareGPT, OpenAI messages, TRL or custom fields).

    The whole file is checked first: a bad row is named, nothing is written.
    Reasoning comes from reasoning_content / thinking fields or <think> blocks.
    Questions the project already has are skipped and counted; the imported
    ones are marked origin 'imported'.
    """
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        dataset = read_dataset(
            path, file_format=file_format, shape=shape, fields=field_pairs(field)
        )
        tag_id = resolve.tag_at_or_added(session, project, tag).id if tag else None
        result = import_records(session, project, dataset, tag_id)
    report(
        result.as_dict(),
        as_json,
        f"imported {result.questions} questions ({result.answers} with answers) from "
        f"{result.read} {result.shape} records under {result.tag_path!r}; "
        f"{result.duplicates} duplicates skipped",
    )
