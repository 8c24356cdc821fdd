"""`distillset demo`: offline auto-distill with the simulated teacher, re-runnable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

Cli = Callable[..., Result]


def test_demo_distils_exports_and_says_the_teacher_was_simulated(cli: Cli, tmp_path: Path) -> None:
    output = tmp_path / "out"

    result = cli("demo", "--output", str(output))

    assert result.exit_code == 0, result.output
    assert "tags 12/12 · questions 18/18 · answers 18/18" in result.stdout
    assert "SIMULATED" in result.stdout and "--preset deepseek" in result.stdout
    lines = (output / "demo.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 18
    record = json.loads(lines[0])
    roles = [message["role"] for message in record["messages"]]
    assert roles[-2:] == ["user", "assistant"]


def test_demo_runs_again_without_new_work(cli: Cli, tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = cli("demo", "--output", str(output), "--levels", "1", "--json")
    assert first.exit_code == 0, first.output

    again = cli("demo", "--output", str(output), "--levels", "1", "--json")

    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["task"]["counters"]["calls"]["requests"] == 0
    assert summary["export"]["records"] == 6
    assert len((output / "demo.jsonl").read_text(encoding="utf-8").splitlines()) == 6


def test_demo_refuses_to_repoint_a_real_endpoint(cli: Cli, tmp_path: Path) -> None:
    cli("model", "add", "demo-teacher", "--base-url", "https://api.example.com/v1", "--model", "x")

    result = cli("demo", "--output", str(tmp_path / "out"))

    assert result.exit_code == 2
    assert "is not the demo's" in result.stderr
