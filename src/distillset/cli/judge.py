"""`distillset judge NAME [--model ALIAS] [--rescore] [filters]`: AI scoring of records."""

from __future__ import annotations

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    QueueOption,
    state_of,
)
from distillset.cli.record_filters import FilterOptions, filter_options
from distillset.cli.task_progress import run_or_queue
from distillset.review import create_judge_task


@app.command("judge")
@filter_options(
    "tag",
    "confirmed",
    "has_reasoning",
    "model_name",
    "search",
    "label",
    "scored",
    "min_score",
    "max_score",
)
def judge_command(
    ctx: typer.Context,
    name: str = ProjectArgument,
    model: str | None = typer.Option(
        None, "--model", help="Judge endpoint alias (default: the project's answer model)."
    ),
    filters: FilterOptions = FilterOptions(),
    rescore: bool = typer.Option(
        False,
        "--rescore",
        help="Score every matching record, scored ones too (score filters allowed): to judge "
        "again with another model; with the same model and prompt, add --no-cache for a "
        "fresh verdict.",
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    batch: bool = typer.Option(
        False,
        "--batch",
        help="Send the verdict requests through the judge model's batch interface "
        "(/v1/batches): cheaper, answered within the provider's window (hours).",
    ),
    queue: bool = QueueOption,
    as_json: bool = JsonOption,
) -> None:
    """Score unscored records 0-5 with a judge model (run again to resume or retry).

    With --rescore every matching record is scored again; `tasks resume ID` continues such a
    run without scoring a record twice.
    """
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        record_filter = filters.record_filter(session, project)
        task = create_judge_task(
            session,
            project,
            model=model,
            record_filter=record_filter,
            rescore=rescore,
            no_cache=no_cache,
            max_cost=max_cost,
            batch=batch,
        )
        task_id = task.id

    run_or_queue(
        state.store,
        state.settings,
        task_id,
        queue=queue,
        as_json=as_json,
        show_progress=not no_progress and not as_json,
    )
