"""What the CLI shows while a task runs: Rich bars on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from distillset.cli import task_progress
from distillset.cli.task_progress import ProgressView
from distillset.kinds import stages_of

# The stages each kind declares, as the CLI is handed them.
# The stages shown of a job without conversations (an optional stage shows once it has work).
DISTILLING = [stage.name for stage in stages_of("auto_distill") if not stage.optional]
JUDGE = [stage.name for stage in stages_of("judge")]

RUNNING = {
    "tags": {"planned": 20, "done": 12, "failed": 2},
    "questions": {"planned": 48, "done": 9, "failed": 0},
    "answers": {"planned": 48, "done": 3, "failed": 0},
    "calls": {
        "requests": 30,
        "cached": 4,
        "failed": 2,
        "input_tokens": 1000,
        "output_tokens": 234,
        "cost": 0.0123,
    },
}
FINISHED = {
    **RUNNING,
    "tags": {"planned": 20, "done": 18, "failed": 2},
    "questions": {"planned": 48, "done": 48, "failed": 0},
    "answers": {"planned": 48, "done": 47, "failed": 1},
}
JUDGING = {"judged": {"planned": 10, "done": 4, "failed": 1}}
CALLS_LINE = "30 requests, 4 cached, 2 failed calls, 1,234 tokens billed, cost 0.0123"

_ERASE_LINE = "\x1b[2K"
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
_BAR = set("━╸╺")
_ELAPSED = re.compile(r"\d+:\d\d:\d\d")


def _console(monkeypatch: pytest.MonkeyPatch, *, terminal: bool) -> io.StringIO:
    """Stand-in for the CLI's stderr console, a terminal or not; returns what it was sent."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=terminal, color_system=None, width=100)
    monkeypatch.setattr(task_progress, "err_console", console)
    return screen


def _last_frame(screen: io.StringIO) -> list[str]:
    """The lines the terminal is left showing, without the bars' glyphs and elapsed times.

    Each redraw erases the previous frame line by line, so the last frame follows the last
    erase sequence."""
    frame = _CONTROL.sub("", screen.getvalue().rsplit(_ERASE_LINE, 1)[-1])
    return [_visible_words(line) for line in frame.splitlines()]


def _visible_words(line: str) -> str:
    words = line.split()
    return " ".join(w for w in words if not set(w) <= _BAR and not _ELAPSED.fullmatch(w))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Sets the time the view reads, so the plain lines' pace needs no waiting."""
    now = [1000.0]
    monkeypatch.setattr(task_progress, "time", SimpleNamespace(monotonic=lambda: now[0]))

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def _show(stages: list[str], *updates: dict[str, Any], enabled: bool = True) -> None:
    with ProgressView(stages, enabled) as view:
        for counters in updates:
            view.update(counters)


def test_a_terminal_shows_a_bar_per_stage_and_ends_on_the_last_counts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    screen = _console(monkeypatch, terminal=True)

    _show(DISTILLING, RUNNING, FINISHED)

    assert _last_frame(screen) == [
        "tags 18/20 2 failed",
        "questions 48/48",
        "answers 47/48 1 failed",
        CALLS_LINE,
    ]
    assert "━" in screen.getvalue()  # drawn as bars
    assert capsys.readouterr().err == ""  # and no plain lines beside them


def test_a_terminal_shows_a_judge_task_as_one_bar_without_call_statistics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = _console(monkeypatch, terminal=True)

    _show(JUDGE, JUDGING)

    frame = [line for line in _last_frame(screen) if line]
    assert frame == ["judged 4/10 1 failed"]


def test_a_terminal_does_not_leave_a_stage_with_nothing_planned_looking_unfinished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = _console(monkeypatch, terminal=True)
    tags_only = {
        "tags": {"planned": 3, "done": 3, "failed": 0},
        "questions": {"planned": 0, "done": 0, "failed": 0},
        "answers": {"planned": 0, "done": 0, "failed": 0},
        "calls": RUNNING["calls"],
    }

    _show(DISTILLING, tags_only)

    assert not any("/?" in line for line in _last_frame(screen))


def test_a_pipe_gets_plain_lines_at_most_every_two_seconds_and_no_bars(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock: Callable[[float], None],
) -> None:
    screen = _console(monkeypatch, terminal=False)

    with ProgressView(DISTILLING) as view:
        view.update(RUNNING)  # the first counters are shown at once
        clock(1.0)
        view.update(FINISHED)  # too soon: skipped
        clock(1.5)
        view.update(FINISHED)

    assert capsys.readouterr().err.splitlines() == [
        f"tags 12/20 (2 failed) · questions 9/48 · answers 3/48 · {CALLS_LINE}",
        f"tags 18/20 (2 failed) · questions 48/48 · answers 47/48 (1 failed) · {CALLS_LINE}",
    ]
    assert screen.getvalue() == ""  # no bars, no terminal control codes in a log file


def test_a_pipe_gets_a_judge_task_as_one_stage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _console(monkeypatch, terminal=False)

    _show(JUDGE, JUDGING)

    assert capsys.readouterr().err == "judged 4/10 (1 failed)\n"


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_progress_turned_off_shows_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], terminal: bool
) -> None:
    """As with --json, whose output must stay one JSON document."""
    screen = _console(monkeypatch, terminal=terminal)

    _show(DISTILLING, RUNNING, FINISHED, enabled=False)

    assert screen.getvalue() == "" and capsys.readouterr() == ("", "")
