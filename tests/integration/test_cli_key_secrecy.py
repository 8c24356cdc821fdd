"""A planted key must never show up in the database file, any output, or any log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

Cli = Callable[..., Result]


def test_planted_key_appears_nowhere(
    cli: Cli,
    distillset_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = f"sk-test-PLANTED-{uuid.uuid4().hex}"
    in_file = f"sk-test-PLANTED-file-{uuid.uuid4().hex}"
    monkeypatch.setenv("PLANTED_KEY", planted)
    monkeypatch.setenv("OPENAI_API_KEY", planted)
    base = ("--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    outputs: list[str] = []

    def run(*args: str, input: str | None = None, ok: bool = True) -> Result:
        result = cli(*args, input=input)
        outputs.append(result.output)
        assert (result.exit_code == 0) == ok, (args, result.output)
        return result

    run("keys", "set", "main", input=in_file + "\n")
    run("project", "create", "P")
    run("model", "add", "by-env", *base, "--api-key-env", "PLANTED_KEY")
    run("model", "add", "by-file", *base, "--key-name", "main")
    run("model", "add", "by-default", *base)
    run("model", "add", "openai", "--preset", "openai", "--model", "gpt-4o-mini")
    run("model", "set", "by-default", "--temperature", "0.2", "--json")
    run("project", "set", "P", "--question-model", "by-env", "--answer-model", "by-file")
    run("tags", "add", "P", "--path", "A > B")
    for listing in (
        ("project", "list"),
        ("project", "show", "P"),
        ("model", "list"),
        ("model", "show", "by-env"),
        ("model", "show", "by-file"),
        ("model", "show", "by-default"),
        ("keys", "list"),
        ("tags", "tree", "P"),
    ):
        run(*listing)
        run(*listing, "--json")
    # Mistakes, including a key pasted where a name belongs: refused without echoing it.
    run("model", "add", "bad", *base, "--api-key-env", planted, ok=False)
    run("model", "add", "bad", *base, "--key-name", planted, ok=False)
    run("model", "set", "by-env", "--api-key-env", planted, ok=False)
    run("keys", "set", planted, input=planted + "\n", ok=False)
    run("keys", "remove", planted, ok=False)
    run("keys", "set", "empty", input="\n", ok=False)
    run("model", "show", "ghost", ok=False)
    run("--debug", "model", "add", "bad", *base, "--api-key-env", planted, ok=False)

    secrets = (planted, in_file)
    for text in (*outputs, caplog.text):
        for secret in secrets:
            assert secret not in text
    stored = [path for path in distillset_home.rglob("*") if path.is_file()]
    assert any(path.name.startswith("distillset.sqlite3") for path in stored)
    for path in stored:
        data = path.read_bytes()
        for secret in secrets:
            if path.name == "keys.json" and secret == in_file:
                continue  # the one place a key is meant to live
            assert secret.encode() not in data, path
    assert in_file.encode() in (distillset_home / "keys.json").read_bytes()
