"""`distillset model test ALIAS` against the fake server and against a closed port."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from typer.testing import Result

from distillset.testing import FakeModelServer

Cli = Callable[..., Result]


def test_model_test_reports_latency_structured_output_and_reasoning(
    cli: Cli, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-cli-secret-42")
    fake_server.configure(require_api_key="sk-cli-secret-42")
    added = cli(
        "model", "add", "fake", "--model", "fake-model", "--base-url", fake_server.url,
        "--api-key-env", "FAKE_KEY", "--structured", "json_object",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    result = cli("model", "test", "fake", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["reasoning"] is True
    assert report["structured_output"] == "json_object"
    assert report["structured_output_works"] is True
    assert report["latency_ms"] >= 0
    assert "sk-cli-secret-42" not in result.output
    human = cli("model", "test", "fake")
    assert human.exit_code == 0
    assert "structured output (json_object): works" in human.stdout
    assert "reasoning: works" in human.stdout and "plain reply: works" in human.stdout


def test_model_test_without_reasoning_or_structured_support(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reasoning_style="none")
    cli("model", "add", "plain", "--model", "m", "--base-url", fake_server.url)
    report = json.loads(cli("model", "test", "plain", "--json").stdout)
    assert report["reasoning"] is False
    assert report["structured_output"] == "json_schema"  # tried, to tell the user
    assert report["structured_output_works"] is True
    assert fake_server.stats().total == 1  # the list request is the ping too


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
@pytest.mark.parametrize("quirk", [None, "plain_lines", "code_fence", "object_wrapped"])
def test_model_test_does_not_trust_a_list_that_ignores_the_format(
    cli: Cli, fake_server: FakeModelServer, mode: str, quirk: str | None
) -> None:
    fake_server.configure(ignore_response_format=True)
    if quirk:
        fake_server.configure(**{quirk: 1.0})
    cli(
        "model", "add", "loose", "--model", "m", "--base-url", fake_server.url, "--structured", mode
    )
    result = cli("model", "test", "loose", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["structured_output"] == mode
    assert report["structured_output_works"] is False
    assert "not the requested JSON object" in report["structured_output_error"]
    assert fake_server.stats().total == 1
    assert "response_format" in fake_server.stats().bodies[0]


def test_model_test_on_a_down_endpoint_is_one_clear_line(cli: Cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli("model", "add", "down", "--model", "m", "--base-url", f"http://127.0.0.1:{port}/v1")
    result = cli("model", "test", "down", "--timeout", "5")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "cannot connect" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_model_test_reports_refused_structured_output(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reject_response_format=True)
    cli("model", "add", "old", "--model", "m", "--base-url", fake_server.url)
    result = cli("model", "test", "old", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["structured_output_works"] is False
    assert "HTTP 400" in report["structured_output_error"]
    assert report["reply"] and report["model"] == "m"  # the plain ping still answered
    assert fake_server.stats().by_status == {400: 1, 200: 1}
