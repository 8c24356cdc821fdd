"""`distillset dataset select` (choose the best of each question's samples) and
`dataset rate --difficulty` (the judge rates each question's difficulty)."""

from __future__ import annotations

import typer

from distillset import resolve
from distillset.cli.common import (
    JsonOption,
    MaxCostOption,
    NoCacheOption,
    ProjectArgument,
    print_json,
    say,
    state_of,
)
from distillset.cli.dataset import dataset_app
from distillset.cli.record_filters import TagFilter
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.domain import InvalidInputError
from distillset.review import SelectionResult, create_rate_task, select_by, start_selection
from distillset.store import Task


@dataset_app.command("select")
def dataset_select(
    ctx: typer.Context,
    name: str = ProjectArgument,
    by: str = typer.Option(
        ...,
        "--by",
        help="judge: the judge scores the samples and the best is chosen; consistency: "
        "majority vote on the final answer, with the agreement recorded.",
    ),
    tag: str | None = TagFilter,
    model: str | None = typer.Option(
        None, "--model", help="Judge endpoint alias (default: the project's answer model)."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    as_json: bool = JsonOption,
) -> None:
    """Choose one sample of each question that has several: export takes the chosen one.

    --by judge runs a (resumable) judge task over the unscored samples, then chooses each
    question's best-scored one; --by consistency needs no model.
    """
    method = select_by(by)
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        started = start_selection(
            session,
            project,
            method,
            tag_id=resolve.tag_id(session, project, tag),
            model=model,
            no_cache=no_cache,
            max_cost=max_cost,
        )
        task_id = started.id if isinstance(started, Task) else None
    if task_id is not None:
        summary = run_task_here(
            state.store, state.settings, task_id, show_progress=not no_progress and not as_json
        )
        report_outcome(summary, as_json)
        return
    assert isinstance(started, SelectionResult)
    if as_json:
        print_json(started.as_dict())
        return
    line = f"chose a sample of {started.chosen} of {started.questions} questions by majority vote"
    if started.agreement is not None:
        line += f"; mean agreement {started.agreement:.0%}"
    if started.undecided:
        line += f"; {started.undecided} without a final answer to vote on"
    say(line)


@dataset_app.command("rate")
def dataset_rate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    difficulty: bool = typer.Option(
        False, "--difficulty", help="Rate each question's difficulty 1-10 (what is rated)."
    ),
    tag: str | None = TagFilter,
    model: str | None = typer.Option(
        None, "--model", help="Judge endpoint alias (default: the project's answer model)."
    ),
    rerate: bool = typer.Option(
        False, "--rerate", help="Rate every question again, rated ones too."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    no_cache: bool = NoCacheOption,
    max_cost: float | None = MaxCostOption,
    as_json: bool = JsonOption,
) -> None:
    """Have the judge rate questions (a resumable task; run again to rate what is left).

    With --difficulty each unrated question gets a difficulty from 1 to 10 and a short
    reason; export filters on it (--min-difficulty) and balances by it (--balanced-by).
    """
    if not difficulty:
        raise InvalidInputError("say what to rate: --difficulty")
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        task_id = create_rate_task(
            session,
            project,
            model=model,
            tag_id=resolve.tag_id(session, project, tag),
            rerate=rerate,
            no_cache=no_cache,
            max_cost=max_cost,
        ).id
    summary = run_task_here(
        state.store, state.settings, task_id, show_progress=not no_progress and not as_json
    )
    report_outcome(summary, as_json)
