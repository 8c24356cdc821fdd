"""Showing a running task: Rich bars on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any

from rich.console import RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from distillset.cli.common import err_console
from distillset.config import Settings
from distillset.store import Store
from distillset.tasks.runner import run_task

STAGES = ("tags", "questions", "answers")
PLAIN_LINE_INTERVAL = 2.0


def calls_line(counters: dict[str, Any]) -> str:
    calls = counters.get("calls") or {}
    text = (
        f"{calls.get('requests', 0)} requests, {calls.get('cached', 0)} cached, "
        f"{calls.get('failed', 0)} failed calls, "
        f"{calls.get('input_tokens', 0) + calls.get('output_tokens', 0):,} tokens"
    )
    if calls.get("cost"):
        text += f", cost {calls['cost']:.4f}"
    return text


def stages_line(counters: dict[str, Any]) -> str:
    parts = []
    for stage in STAGES:
        values = counters.get(stage) or {}
        part = f"{stage} {values.get('done', 0)}/{values.get('planned', 0)}"
        if values.get("failed"):
            part += f" ({values['failed']} failed)"
        parts.append(part)
    return " · ".join(parts)


class _StageBars(Progress):
    """Three stage bars with one line of call statistics under them."""

    calls_text = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield Text(self.calls_text, style="dim")


class ProgressView:
    """Receives the runner's counters; draws bars or prints a line now and then."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.rich = enabled and err_console.is_terminal
        self._last_line = 0.0
        self._bars: _StageBars | None = None
        self._ids: dict[str, Any] = {}

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
            for stage in STAGES:
                self._ids[stage] = self._bars.add_task(stage, total=None, failed="")
            self._bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def update(self, counters: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self._bars is not None:
            for stage in STAGES:
                values = counters.get(stage) or {}
                failed = values.get("failed", 0)
                self._bars.update(
                    self._ids[stage],
                    total=values.get("planned", 0) or None,
                    completed=values.get("done", 0),
                    failed=f"{failed} failed" if failed else "",
                )
            self._bars.calls_text = calls_line(counters)
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_LINE_INTERVAL:
            self._last_line = now
            sys.stderr.write(f"{stages_line(counters)} · {calls_line(counters)}\n")
            sys.stderr.flush()


def run_task_here(
    store: Store, settings: Settings, task_id: int, *, show_progress: bool = True
) -> dict[str, Any]:
    """Run a task in this process; Ctrl-C stops it cleanly as cancelled."""

    async def main() -> dict[str, Any]:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, cancel.set)
            loop.add_signal_handler(signal.SIGTERM, cancel.set)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (tests through CliRunner in a thread)
        with ProgressView(show_progress) as view:
            return await run_task(
                store, settings, task_id, cancel_event=cancel, on_progress=view.update
            )

    return asyncio.run(main())
