"""Data the CLI prints never steers the terminal: control characters (ESC sequences that retitle
the window or clear the screen, BEL...) and bidi overrides are shown as escapes, on a terminal
and in a pipe; `--json` stays valid JSON holding the same text."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import update
from typer.testing import Result

from distillset.cli import tags as cli_tags
from distillset.domain import Origin
from distillset.projects.lifecycle import create_project
from distillset.store import Store, Tag
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from distillset.testing import fake_server as fake_server_module
from helpers import add_record, make_project

# Stored before control characters were refused (or by another tool writing the database).
TITLE_AND_CLEAR = "ctl\x1b]0;TITLE\x07\x1b[2J"
SHOWN = "ctl\\x1b]0;TITLE\\x07\\x1b[2J"
OVERRIDE = "\u202eevil"


@pytest.fixture
def hostile_tree(store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "P")
        tag = add_tag_path(session, project, "Plain", Origin.MANUAL)
        add_tag_path(session, project, f"Plain > {OVERRIDE}", Origin.MANUAL)
        session.execute(update(Tag).where(Tag.id == tag.id).values(label=TITLE_AND_CLEAR))
        add_record(session, project, tag, f"Why {OVERRIDE}?", f"Because {TITLE_AND_CLEAR}")


def _assert_escaped(output: str) -> None:
    assert SHOWN in output and "\\u202eevil" in output
    for raw in ("\x1b]", "\x07", "\x1b[2J", "\u202e"):
        assert raw not in output


def test_tags_tree_in_a_pipe_escapes_control_and_bidi_characters(
    hostile_tree: None, cli: Callable[..., Result]
) -> None:
    done = cli("tags", "tree", "P")

    assert done.exit_code == 0, done.output
    _assert_escaped(done.stdout)


def test_tags_tree_on_a_terminal_escapes_them_too(
    hostile_tree: None, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, color_system="standard", width=120)
    monkeypatch.setattr(cli_tags, "console", terminal)

    done = cli("tags", "tree", "P")

    assert done.exit_code == 0, done.output
    _assert_escaped(screen.getvalue())


def test_tables_and_records_escape_them_and_json_keeps_the_text(
    hostile_tree: None, cli: Callable[..., Result]
) -> None:
    listed = cli("dataset", "list", "P")
    shown = cli("dataset", "show", "P", "1")
    as_json = cli("dataset", "show", "P", "1", "--json")

    assert listed.exit_code == shown.exit_code == as_json.exit_code == 0, listed.output
    for output in (listed.stdout, shown.stdout):
        assert "\\u202e" in output and "\u202e" not in output and "\x1b" not in output
    assert SHOWN in shown.stdout
    assert "\u202e" not in as_json.stdout and "\x1b" not in as_json.stdout
    record = json.loads(as_json.stdout)
    assert record["answer"] == f"Because {TITLE_AND_CLEAR}"
    assert record["question"] == f"Why {OVERRIDE}?"


def test_an_endpoint_error_in_the_last_error_line_is_escaped(
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Result],
) -> None:
    make_project(store, fake_server.url, "P", max_retries=0)
    original = fake_server_module._error

    def hostile_error(status: int, message: str, code: str, headers: Any = None) -> Any:
        return original(status, f"overloaded {TITLE_AND_CLEAR} {OVERRIDE}", code, headers)

    monkeypatch.setattr(fake_server_module, "_error", hostile_error)
    fake_server.configure(rate_500=1.0)

    done = cli("auto", "P", "--levels", "1", "--tags", "1", "--questions", "1")

    assert done.exit_code == 1
    # The gateway drops the control characters of an endpoint's text; the CLI escapes the
    # bidi override that remains.
    assert "last error:" in done.stdout and "\\u202eevil" in done.stdout
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in done.stdout
