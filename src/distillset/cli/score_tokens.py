"""`distillset answers score-tokens NAME --endpoint ALIAS [filters]`: soft labels for answers
another model wrote, from a teacher that scores given text."""

from __future__ import annotations

import asyncio

import typer

from distillset import resolve
from distillset.answers import DEFAULT_SCORE_K, create_score_task, probe_scoring
from distillset.cli.common import JsonOption, MaxCostOption, ProjectArgument, state_of
from distillset.cli.dataset import AllOption
from distillset.cli.distill import answers_app
from distillset.cli.record_filters import ALL_FILTERS, FilterOptions, filter_options
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.projects import endpoint_config, get_endpoint
from distillset.review import chosen_filter


@answers_app.command("score-tokens")
@filter_options(*ALL_FILTERS)
def answers_score_tokens(
    ctx: typer.Context,
    name: str = ProjectArgument,
    endpoint: str = typer.Option(
        ..., "--endpoint", help="Alias of the open-weight teacher that scores (a vLLM server)."
    ),
    k: int = typer.Option(DEFAULT_SCORE_K, "--k", help="Alternatives kept per token."),
    ids: list[int] | None = typer.Option(None, "--id", help="A record (repeatable)."),
    filters: FilterOptions = FilterOptions(),
    everything: bool = AllOption,
    max_cost: float | None = MaxCostOption,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    as_json: bool = JsonOption,
) -> None:
    """Add soft labels to existing answers: an open-weight teacher scores each answer's
    tokens (vLLM's prompt_logprobs); a resumable task.

    Each record is sent as its conversation with the answer as the final turn; the server's
    own chat template renders it. Records that have soft labels are skipped. A server that
    cannot score given text (llama.cpp, hosted APIs) is refused after one probe request.
    """
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        flt = filters.record_filter(session, project)
        chosen = chosen_filter(ids, flt, everything)
        config = endpoint_config(get_endpoint(session, endpoint), state.settings)
    asyncio.run(probe_scoring(state.store, config, k))
    with state.store.session() as session:
        task = create_score_task(
            session,
            resolve.project_named(session, name),
            endpoint=endpoint,
            record_filter=chosen,
            k=k,
            max_cost=max_cost,
        )
        task_id = task.id
    summary = run_task_here(
        state.store, state.settings, task_id, show_progress=not no_progress and not as_json
    )
    report_outcome(summary, as_json)
