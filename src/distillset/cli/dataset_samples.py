"""`distillset dataset select`: choose the best of each question's samples (best-of-N)."""

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
from distillset.cli.dataset import TagFilter, dataset_app
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.review import RecordFilter, SelectBy, create_judge_task, select_by, select_samples


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
        tag_id = resolve.tag_id(session, project, tag)
        if method is SelectBy.CONSISTENCY:
            result = select_samples(session, project, method, tag_id=tag_id)
        else:
            task_id = create_judge_task(
                session,
                project,
                model=model,
                record_filter=RecordFilter(tag_id=tag_id),
                no_cache=no_cache,
                max_cost=max_cost,
                select=True,
            ).id
    if method is SelectBy.JUDGE:
        summary = run_task_here(
            state.store, state.settings, task_id, show_progress=not no_progress and not as_json
        )
        report_outcome(summary, as_json)
        return
    if as_json:
        print_json(result.as_dict())
        return
    line = f"chose a sample of {result.chosen} of {result.questions} questions by majority vote"
    if result.agreement is not None:
        line += f"; mean agreement {result.agreement:.0%}"
    if result.undecided:
        line += f"; {result.undecided} without a final answer to vote on"
    say(line)
