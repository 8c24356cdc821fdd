"""List requests are bounded by default (max_tokens, and the count in the schema where the
server takes it); a 400 is read from its body: only a refused format falls back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from distillset.llm.lists import LIST_OUTPUT_BASE, LIST_OUTPUT_PER_ITEM
from distillset.testing import FakeModelServer

Cli = Callable[..., Result]
NAME = "Sports"


def _project(cli: Cli, fake_server: FakeModelServer, *options: str) -> None:
    base = ("--base-url", fake_server.url, "--model", "fake-model", "--structured", "json_schema")
    assert cli("project", "create", NAME).exit_code == 0
    assert cli("model", "add", "local", *base, *options).exit_code == 0
    models = ("--question-model", "local", "--answer-model", "local", "--retries", "0")
    assert cli("project", "set", NAME, *models).exit_code == 0


def _items_schema(body: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = body["response_format"]["json_schema"]["schema"]
    return dict(schema["properties"]["items"])


def test_list_requests_are_bounded_and_answers_are_not(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    _project(cli, fake_server)
    result = cli("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "2")
    assert result.exit_code == 0, result.output[-800:]
    bodies = fake_server.stats().bodies
    lists = [body for body in bodies if "response_format" in body]
    answers = [body for body in bodies if "response_format" not in body]
    assert lists and answers
    tags = lists[0]
    assert tags["max_tokens"] == LIST_OUTPUT_BASE + 3 * LIST_OUTPUT_PER_ITEM
    assert (_items_schema(tags)["minItems"], _items_schema(tags)["maxItems"]) == (3, 3)
    assert all(_items_schema(body)["maxItems"] == 2 for body in lists[1:])  # questions
    assert all("max_tokens" not in body for body in answers)  # unbounded unless asked


def test_the_endpoint_bound_wins(cli: Cli, fake_server: FakeModelServer) -> None:
    _project(cli, fake_server, "--max-tokens", "300")
    assert cli("tags", "generate", NAME, "--count", "3").exit_code == 0
    assert [body["max_tokens"] for body in fake_server.stats().bodies] == [300]


def test_a_server_refusing_item_counts_gets_the_schema_without_them(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reject_item_counts=True)
    _project(cli, fake_server)
    result = cli("tags", "generate", NAME, "--count", "3")
    assert result.exit_code == 0, result.output[-800:]
    first, second = fake_server.stats().bodies
    assert "maxItems" in _items_schema(first) and "maxItems" not in _items_schema(second)
    assert second["response_format"]["type"] == "json_schema"  # still structured
    assert fake_server.stats().by_status == {400: 1, 200: 1}


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
def test_a_context_overflow_is_reported_not_read_as_a_refused_format(
    cli: Cli, fake_server: FakeModelServer, mode: str
) -> None:
    fake_server.configure(context_size=10)
    _project(cli, fake_server)
    assert cli("model", "set", "local", "--structured", mode).exit_code == 0
    result = cli("tags", "generate", NAME, "--count", "3")
    assert result.exit_code != 0
    assert "exceeds the available context size" in result.output
    # One request: no second one without the format, which would fail the same way.
    assert fake_server.stats().total == 1
    task = json.loads(cli("tasks", "show", "1", "--json").stdout)
    assert "exceeds the available context size" in task["last_error"]


def test_a_reply_cut_at_the_default_bound_says_how_to_raise_it(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(rate_truncated=1.0)
    _project(cli, fake_server)
    result = cli("tags", "generate", NAME, "--count", "3")
    assert result.exit_code != 0
    assert "default bound" in result.output and "model set local --max-tokens" in result.output
