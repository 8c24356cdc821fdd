"""Showing a running task: Rich bars on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from distillset.cli.common import err_console, print_json, say
from distillset.config import Settings
from distillset.domain import TaskStatus
from distillset.runs import can_share, enqueue, get_task
from distillset.store import Store

PLAIN_LINE_INTERVAL = 2.0
# After this long without a reply, say that the endpoint has not answered yet.
STALL_NOTICE_SECONDS = 5.0
EXIT_FAILED = 1
EXIT_PAUSED = 3  # at its budget: resumable with a higher --max-cost
EXIT_CANCELLED = 130


def stage_names(task: dict[str, Any]) -> list[str]:
    """The stages a task's kind declares (``task_as_dict``'s ``stages``), in order; an
    optional stage only when it has work."""
    counters = task.get("counters") or {}
    return [
        stage["name"]
        for stage in task.get("stages") or ()
        if not stage.get("optional") or has_work(counters.get(stage["name"]))
    ]


def has_work(values: dict[str, Any] | None) -> bool:
    return any((values or {}).get(name) for name in ("planned", "done", "failed", "skipped"))


def calls_line(counters: dict[str, Any]) -> str:
    """Calls, then what they were billed: failed calls are paid for too, and say how much."""
    calls = counters.get("calls") or {}
    text = (
        f"{calls.get('requests', 0)} requests, {calls.get('cached', 0)} cached, "
        f"{calls.get('failed', 0)} failed calls, "
        f"{calls.get('input_tokens', 0) + calls.get('output_tokens', 0):,} tokens billed"
    )
    if calls.get("cached_input_tokens"):
        text += f" ({calls['cached_input_tokens']:,} input tokens from the prompt cache)"
    failed_tokens = calls.get("failed_input_tokens", 0) + calls.get("failed_output_tokens", 0)
    if failed_tokens:
        text += f" ({failed_tokens:,} in failed calls)"
    if calls.get("cost"):
        text += f", cost {calls['cost']:.4f}"
        if calls.get("failed_cost"):
            text += f" ({calls['failed_cost']:.4f} in failed calls)"
    if calls.get("waiting"):
        text += f", {waiting_text(calls)}"
    return text


def waiting_text(calls: dict[str, Any]) -> str:
    return (
        f"{calls['waiting']} waiting for a reply "
        f"(longest {calls.get('longest_wait_seconds', 0):.0f}s)"
    )


def stall_notice(counters: dict[str, Any]) -> str | None:
    """A line for a stall: requests out for a while and none answered meanwhile."""
    calls = counters.get("calls") or {}
    if not calls.get("waiting") or calls.get("longest_wait_seconds", 0) < STALL_NOTICE_SECONDS:
        return None
    return (
        f"the endpoint has not answered yet: {waiting_text(calls)}; still waiting "
        "(Ctrl-C stops the run, `distillset tasks resume` continues it later)"
    )


def stages_line(counters: dict[str, Any], stages: Sequence[str]) -> str:
    parts = []
    for stage in stages:
        values = counters.get(stage) or {}
        part = f"{stage} {values.get('done', 0)}/{values.get('planned', 0)}"
        if values.get("failed"):
            part += f" ({values['failed']} failed)"
        parts.append(part)
    return " · ".join(parts)


def batches_line(counters: dict[str, Any]) -> str:
    """Batch mode: the batches, and where their requests stand; "" without batches."""
    batches = counters.get("batches")
    if not batches:
        return ""
    text = (
        f"{batches.get('batches', 0)} batches ({batches.get('open', 0)} open): requests "
        f"{batches.get('queued', 0)} queued, {batches.get('submitted', 0)} submitted, "
        f"{batches.get('in_progress', 0)} in progress, {batches.get('done', 0)} done, "
        f"{batches.get('failed', 0)} failed"
    )
    if batches.get("resubmitted"):
        text += f", {batches['resubmitted']} sent again"
    return text


def training_line(counters: dict[str, Any]) -> str:
    """A training task's figures: its latest loss, eval loss and throughput."""
    figures = counters.get("training") or {}
    parts = []
    for key, label in (("loss", "loss"), ("eval_loss", "eval loss")):
        if figures.get(key) is not None:
            parts.append(f"{label} {figures[key]:.4f}")
    if figures.get("tokens_per_second"):
        parts.append(f"{figures['tokens_per_second']:,.0f} tokens/s")
    return " · ".join(parts) or "training starts"


def progress_lines(counters: dict[str, Any], stages: Sequence[str]) -> list[str]:
    """The declared stages, then calls where the kind counts them (a judge task does not),
    then batches where the task uses them, or a training task's losses."""
    lines = [stages_line(counters, stages)]
    if "calls" in counters:
        lines.append(calls_line(counters))
    if batches := batches_line(counters):
        lines.append(batches)
    if "training" in counters:
        lines.append(training_line(counters))
    return lines


class _StageBars(Progress):
    """A bar per stage with one line of call statistics under them."""

    calls_text = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield Text(self.calls_text, style="dim")


class ProgressView:
    """Receives the runner's counters; draws bars or prints a line now and then."""

    def __init__(
        self, stages: Sequence[str], enabled: bool = True, optional: Sequence[str] = ()
    ) -> None:
        self.all_stages = tuple(stages)
        self.optional = frozenset(optional)  # shown only once they have work
        self.stages = self.all_stages
        self.enabled = enabled
        self.rich = enabled and err_console.is_terminal
        self._last_line = 0.0
        self._bars: _StageBars | None = None
        self._ids: dict[str, Any] = {}
        self._stalled = False

    def __enter__(self) -> ProgressView:
        if self.rich:
            self._bars = _StageBars(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]}"),
                TimeElapsedColumn(),
                console=err_console,
            )
            self._bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def _notice_stall(self, counters: dict[str, Any]) -> None:
        """Say once per stall that the endpoint has not answered yet."""
        notice = stall_notice(counters)
        if notice is not None and not self._stalled:
            if self._bars is not None:
                self._bars.console.print(notice, style="yellow", markup=False)
            else:
                sys.stderr.write(notice + "\n")
                sys.stderr.flush()
        self._stalled = notice is not None

    def _shown(self, counters: dict[str, Any]) -> tuple[str, ...]:
        return tuple(
            stage
            for stage in self.all_stages
            if stage not in self.optional or has_work(counters.get(stage))
        )

    def update(self, counters: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._notice_stall(counters)
        self.stages = self._shown(counters)
        if self._bars is not None:
            for stage in self.stages:
                if stage not in self._ids:  # a bar per stage the kind declares
                    self._ids[stage] = self._bars.add_task(stage, total=0, failed="")
                values = counters.get(stage) or {}
                failed = values.get("failed", 0)
                self._bars.update(
                    self._ids[stage],
                    total=values.get("planned", 0),  # 0 planned: nothing to do, done
                    completed=values.get("done", 0),
                    failed=f"{failed} failed" if failed else "",
                )
            self._bars.calls_text = "\n".join(progress_lines(counters, self.stages)[1:])
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_LINE_INTERVAL:
            self._last_line = now
            sys.stderr.write(" · ".join(progress_lines(counters, self.stages)) + "\n")
            sys.stderr.flush()


def run_task_here(
    store: Store, settings: Settings, task_id: int, *, show_progress: bool = True
) -> dict[str, Any]:
    """Run a task in this process; Ctrl-C stops it cleanly as cancelled."""
    # The kinds import every package that runs one: loaded only when a task runs.
    from distillset.kinds import run_task, stages_of

    with store.session() as session:
        kind = get_task(session, task_id).kind
    stages = [stage.name for stage in stages_of(kind)]
    optional = [stage.name for stage in stages_of(kind) if stage.optional]

    async def main() -> dict[str, Any]:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, cancel.set)
            loop.add_signal_handler(signal.SIGTERM, cancel.set)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (tests through CliRunner in a thread)
        with ProgressView(stages, show_progress, optional) as view:
            return await run_task(
                store, settings, task_id, cancel_event=cancel, on_progress=view.update
            )

    return asyncio.run(main())


def run_or_queue(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    queue: bool,
    as_json: bool,
    show_progress: bool = True,
) -> None:
    """Run the task here and report how it ended, or (``queue``) leave it to the workers."""
    if not queue:
        summary = run_task_here(store, settings, task_id, show_progress=show_progress)
        report_outcome(summary, as_json)
        return
    with store.session() as session:
        task = get_task(session, task_id)
        enqueue(task)
    if as_json:
        print_json({"id": task_id, "status": TaskStatus.QUEUED.value, "for_workers": True})
        return
    say(f"task {task_id} queued: a worker runs it (`distillset worker`)")
    if not can_share(store):
        say("  (SQLite: one worker runs it; workers share one job only on PostgreSQL)")


def report_outcome(summary: dict[str, Any], as_json: bool) -> None:
    """Print how a task ended (JSON or a few lines); exit 1 if it failed, 3 if it paused at
    its budget, 130 if cancelled."""
    status, task_id = summary["status"], summary["id"]
    counters = summary.get("counters") or {}
    if as_json:
        print_json(summary)
    else:
        say(f"task {task_id} {status} in {summary['elapsed_seconds'] or 0:.1f}s")
        for line in progress_lines(counters, stage_names(summary)):
            say(f"  {line}")
        if summary.get("last_error") and status != TaskStatus.SUCCEEDED:
            say(f"  last error: {summary['last_error']}")
        if status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            say(f"  resume with `distillset tasks resume {task_id}`")
        if status == TaskStatus.PAUSED:
            say(f"  resume with `distillset tasks resume {task_id} --max-cost <a higher budget>`")
    if status == TaskStatus.FAILED:
        raise typer.Exit(EXIT_FAILED)
    if status == TaskStatus.PAUSED:
        raise typer.Exit(EXIT_PAUSED)
    if status == TaskStatus.CANCELLED:
        raise typer.Exit(EXIT_CANCELLED)
