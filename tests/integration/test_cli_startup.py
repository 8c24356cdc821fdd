"""The quick commands start quickly: they load no web framework, no Arrow, no HTTP client; the
help lists every command without importing it, and flags read as flags."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import typer
from typer.testing import Result

from distillset.cli import app
from distillset.cli.lazy import LAZY_COMMANDS, load_all

Cli = Callable[..., Result]
SLOW = ("fastapi", "starlette", "uvicorn", "jinja2", "pyarrow", "aiohttp")

# Runs `distillset ARGS...` in this process, then names the slow packages it imported.
PROBE = """
import json, sys
from distillset.cli import app
try:
    app(sys.argv[1:], prog_name="distillset")
except SystemExit as exit:
    code = exit.code
finally:
    slow = sorted(name for name in {slow!r} if name in sys.modules)
    sys.stderr.write("\\nloaded: " + json.dumps(slow) + "\\n")
"""


def _loaded_by(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(slow=SLOW), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded: "), done.stderr
    loaded: list[str] = json.loads(last.removeprefix("loaded: "))
    return loaded


@pytest.mark.parametrize(
    "args",
    [("--help",), ("project", "list"), ("tags", "tree", "sprint"), ("tags", "--help")],
    ids=" ".join,
)
def test_quick_commands_load_no_web_framework_arrow_or_http_client(
    cli: Cli, args: tuple[str, ...]
) -> None:
    assert cli("project", "create", "sprint").exit_code == 0
    assert cli("tags", "add", "sprint", "--path", "Running > Starts").exit_code == 0
    assert _loaded_by(*args) == []


def test_the_probe_sees_what_a_heavy_command_loads() -> None:
    assert "fastapi" in _loaded_by("serve", "--help")


def _first_paragraph(text: str) -> str:
    return inspect.cleandoc(text).split("\n\n")[0].strip()


def test_each_listed_summary_is_the_commands_own_help() -> None:
    load_all()
    root: Any = typer.main.get_command(app)
    for path, commands in LAZY_COMMANDS.items():
        group = root
        for name in path:
            group = group.commands[name]
        for name, lazy in commands.items():
            command = group.commands[name]
            assert lazy.summary == _first_paragraph(command.help or ""), (*path, name)


def test_a_lazily_listed_command_runs_and_shows_its_help(cli: Cli) -> None:
    listing = cli("tags", "--help")
    assert "generate" in listing.stdout and "tree" in listing.stdout
    result = cli("tags", "generate", "--help")
    assert result.exit_code == 0, result.output
    assert "--count" in result.stdout


def test_a_mistyped_command_is_offered_the_commands_not_loaded_yet(cli: Cli) -> None:
    result = cli("projet")
    assert result.exit_code == 2
    assert "Did you mean 'project'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("--help",), ("project", "list", "--help"), ("export", "--help"), ("tags", "tree", "--help")],
    ids=" ".join,
)
def test_flags_show_no_value_in_help(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout


def test_options_that_take_a_value_keep_their_type(cli: Cli) -> None:
    result = cli("export", "--help")
    assert "--json" in result.stdout and "<bool>" not in result.stdout
    assert "<path>" in result.stdout  # --output still says what it takes
