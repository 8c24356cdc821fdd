"""A server that quotes the key back (as text, JSON-escaped, or broken over a line) must not
get it into the call log, the task rows, or anything the CLI prints, with or without --debug."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text
from typer.testing import Result

from distillset.store import Store
from distillset.testing import FakeModelServer

NAME = "Echo"
_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")
_ESCAPED_SPACE = re.compile(r"\\+[nrt]")


def readable(text: str) -> str:
    """The text as a person reads it: JSON escapes decoded, breaks and spaces removed, so a
    key written escaped or broken over lines shows whole."""
    text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    text = _ESCAPED_SPACE.sub("", text).replace("\\", "")
    return "".join(text.split())


def _stored_texts(store: Store) -> list[str]:
    """Every text column of the call log and the task rows and events."""
    texts: list[str] = []
    with store.engine.connect() as connection:
        for table in ("llm_calls", "task_events", "tasks"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                texts += [str(value) for value in row if isinstance(value, str | dict | list)]
    return texts


@pytest.mark.parametrize("style", ["raw", "escaped", "split"])
def test_a_key_quoted_back_by_the_server_is_masked_everywhere(
    cli: Callable[..., Result],
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
) -> None:
    key = f"sk-ECHO/{uuid.uuid4().hex}+{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ECHO_API_KEY", key)
    fake_server.configure(require_api_key=key, echo_authorization=style)
    base = ("--base-url", fake_server.url, "--model", "fake-model")
    assert cli("project", "create", NAME).exit_code == 0
    assert cli("model", "add", "echo", *base, "--api-key-env", "ECHO_API_KEY").exit_code == 0
    models = ("--question-model", "echo", "--answer-model", "echo", "--retries", "0")
    assert cli("project", "set", NAME, *models).exit_code == 0

    outputs: list[str] = []
    for args in (
        ("tags", "generate", NAME, "--count", "3"),
        ("--debug", "tags", "generate", NAME, "--count", "3"),
        ("--debug", "auto", NAME, "--levels", "1", "--tags", "2", "--questions", "1"),
        ("model", "test", "echo"),
        ("--debug", "model", "test", "echo", "--json"),
        ("tasks", "list", NAME, "--json"),
        ("tasks", "show", "1", "--json"),
        ("tasks", "show", "1"),
    ):
        result = cli(*args)
        outputs.append(result.stdout + result.stderr)

    # The server did quote the key, and what it said still reaches the user, masked.
    assert fake_server.stats().by_status.get(200, 0) >= 3
    assert any("Bearer ***" in output for output in outputs), outputs
    stored = _stored_texts(store)
    assert any("***" in value for value in stored)
    for where, value in [*enumerate(outputs), *enumerate(stored)]:
        assert key not in readable(value), (where, value[:500])
