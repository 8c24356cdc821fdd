"""Help texts print what they say: Rich markup must not eat bracketed words like `[hf]`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer
from typer.testing import Result

from distillset.cli import app
from distillset.cli.lazy import load_all

Cli = Callable[..., Result]
BRACKETED = re.compile(r"\\?\[[^\]\s]+\]")  # "[hf]", also as written escaped: "\[hf]"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """One help line per option, so a text is found whole."""
    monkeypatch.setenv("COLUMNS", "250")


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_export_help_names_the_hf_extra(cli: Cli) -> None:
    result = cli("export", "--help")
    assert result.exit_code == 0, result.output
    assert "Upload to this Hub dataset repo (needs distillset[hf])." in _flat(result.stdout)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_bracketed_word_in_a_help_text_is_printed(cli: Cli) -> None:
    checked = 0
    load_all()  # commands are imported on first use: walk them all
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or ""] + [
            getattr(param, "help", None) or "" for param in command.params
        ]
        words = [match.replace("\\[", "[") for text in texts for match in BRACKETED.findall(text)]
        if not words:
            continue
        shown = _flat(cli(*path, "--help").stdout)
        for word in words:
            assert word in shown, f"`distillset {' '.join(path)} --help` lost {word!r}"
            checked += 1
    assert checked  # export's distillset[hf] at least
