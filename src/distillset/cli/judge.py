"""`distillset judge NAME [--model ALIAS] [filters]`: AI scoring of unscored records."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import typer

from distillset.cli.app import app
from distillset.cli.common import JsonOption, err_console, print_json, say, state_of
from distillset.cli.dataset import (
    ConfirmedFilter,
    LabelFilter,
    ModelFilter,
    ReasoningFilter,
    SearchFilter,
    TagFilter,
    make_filter,
)
from distillset.quality import create_judge_task, run_judge_task
from distillset.quality.judge import STAGE
from distillset.services.projects import get_project

EXIT_FAILED = 1
EXIT_CANCELLED = 130
PLAIN_LINE_INTERVAL = 5.0


def progress_line(counters: dict[str, Any]) -> str:
    values = counters.get(STAGE) or {}
    line = f"scored {values.get('done', 0)}/{values.get('planned', 0)}"
    return line + (f" ({values['failed']} failed)" if values.get("failed") else "")


class _PlainProgress:
    """A progress line on stderr now and then (a status line on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0

    def __call__(self, counters: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if err_console.is_terminal:
            err_console.print(progress_line(counters), end="\r")
            return
        now = time.monotonic()
        if now - self._last >= PLAIN_LINE_INTERVAL:
            self._last = now
            sys.stderr.write(progress_line(counters) + "\n")


@app.command("judge")
def judge_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Project name."),
    model: str | None = typer.Option(
        None, "--model", help="Judge endpoint alias (default: the project's answer model)."
    ),
    tag: str | None = TagFilter,
    confirmed: bool | None = ConfirmedFilter,
    has_reasoning: bool | None = ReasoningFilter,
    model_name: str | None = ModelFilter,
    search: str | None = SearchFilter,
    label: str | None = LabelFilter,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    as_json: bool = JsonOption,
) -> None:
    """Score unscored records 0-5 with a judge model (run again to resume or retry)."""
    state = state_of(ctx)
    record_filter = make_filter(
        tag, confirmed, has_reasoning, None, None, None, model_name, search, label
    )
    with state.store.session() as session:
        task = create_judge_task(
            session, get_project(session, name), model=model, record_filter=record_filter
        )
        task_id = task.id

    async def main() -> dict[str, Any]:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, cancel.set)
            loop.add_signal_handler(signal.SIGTERM, cancel.set)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (tests through CliRunner)
        return await run_judge_task(
            state.store,
            state.settings,
            task_id,
            cancel_event=cancel,
            on_progress=_PlainProgress(not no_progress and not as_json),
        )

    summary = asyncio.run(main())
    if as_json:
        print_json(summary)
    else:
        say(f"task {task_id} {summary['status']}: {progress_line(summary['counters'] or {})}")
        if summary["last_error"]:
            say(f"last error: {summary['last_error']}")
    if summary["status"] == "failed":
        raise typer.Exit(EXIT_FAILED)
    if summary["status"] == "cancelled":
        raise typer.Exit(EXIT_CANCELLED)
