"""`distillset dataset import NAME FILE`: a dataset file's records as questions and answers."""

from __future__ import annotations

from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    ProjectArgument,
    print_json,
    report,
    say,
    state_of,
)
from distillset.cli.dataset import dataset_app
from distillset.cli.task_progress import EXIT_FAILED, report_outcome, run_task_here
from distillset.domain import TaskStatus, field_pairs
from distillset.review import (
    DEFAULT_IMPORT_TAG,
    IMPORT_FORMATS,
    SHAPES,
    check_auto_tag,
    create_auto_tag_task,
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
    auto_tag: bool = typer.Option(
        False,
        "--auto-tag",
        help="Then place each new question on the best-matching leaf of the tree with the "
        "question model (a resumable task; a question it cannot place stays under --tag).",
    ),
    model: str | None = typer.Option(
        None, "--model", help="Endpoint alias for --auto-tag (default: the question model)."
    ),
    max_cost: float | None = MaxCostOption,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    as_json: bool = JsonOption,
) -> None:
    """Import a dataset file (Alpaca, ShareGPT, OpenAI messages, TRL or custom fields).

    The whole file is checked first: a bad row is named, nothing is written.
    Reasoning comes from reasoning_content / thinking fields or <think> blocks.
    Questions the project already has are skipped and counted; the imported
    ones are marked origin 'imported'.
    """
    state = state_of(ctx)
    task_id: int | None = None
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        dataset = read_dataset(
            path, file_format=file_format, shape=shape, fields=field_pairs(field)
        )
        if auto_tag:
            check_auto_tag(session, project, model, tag)
        tag_id = resolve.tag_at_or_added(session, project, tag).id if tag else None
        result = import_records(session, project, dataset, tag_id)
        if auto_tag:
            # In the import's transaction: a refusal (no model, no tree) writes nothing.
            task = create_auto_tag_task(
                session,
                project,
                from_tag_id=result.tag_id,
                question_ids=result.question_ids,
                model=model,
                max_cost=max_cost,
            )
            task_id = task.id if task is not None else None
    if task_id is not None:
        if not as_json:
            say(f"imported {result.questions} questions; placing them on the tree (task {task_id})")
        summary = run_task_here(
            state.store, state.settings, task_id, show_progress=not no_progress and not as_json
        )
        if as_json:
            print_json({**result.as_dict(), "auto_tag": summary})
            if summary["status"] != TaskStatus.SUCCEEDED:
                raise typer.Exit(EXIT_FAILED)
        else:
            report_outcome(summary, False)
        return
    report(
        result.as_dict(),
        as_json,
        f"imported {result.questions} questions ({result.answers} with answers"
        + (f", {result.conversations} conversations" if result.conversations else "")
        + f") from {result.read} {result.shape} records under {result.tag_path!r}; "
        f"{result.duplicates} duplicates skipped",
    )
