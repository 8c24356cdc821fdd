"""`model test` and runs say what a user must know: a missing key, another model answering,
and a verdict for every capability, quickly, even when the server fails or stalls."""

from __future__ import annotations

import json
from collections.abc import Callable

from typer.testing import Result

from distillset.llm.probe import PROBE_TIMEOUT
from distillset.testing import FakeModelServer

Cli = Callable[..., Result]


def _add(cli: Cli, fake_server: FakeModelServer, alias: str, *options: str) -> Result:
    result = cli("model", "add", alias, "--base-url", fake_server.url, *options)
    assert result.exit_code == 0, result.output
    return result


def test_a_missing_key_is_said_at_add_test_and_every_run(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(require_api_key="sk-the-real-one")
    added = _add(cli, fake_server, "x", "--model", "fake-model", "--api-key-env", "NOPE_UNSET")
    assert "warning: endpoint 'x' has no API key" in added.stderr
    assert "environment variable NOPE_UNSET is not set" in added.stderr

    tested = cli("model", "test", "x")
    assert "key: missing (environment variable NOPE_UNSET is not set)" in tested.stdout
    assert "no API key was sent" in tested.stderr
    assert tested.exit_code == 1  # the server refused every request

    assert cli("project", "create", "P").exit_code == 0
    assert cli("project", "set", "P", "--question-model", "x", "--retries", "0").exit_code == 0
    run = cli("tags", "generate", "P", "--count", "2")
    assert "warning: endpoint 'x' has no API key" in run.stderr
    assert "no API key was sent: environment variable NOPE_UNSET is not set" in run.output
    resumed = cli("tasks", "resume", "1")
    assert "warning: endpoint 'x' has no API key" in resumed.stderr


def test_a_hosted_preset_without_its_key_refuses_to_start(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    added = _add(cli, fake_server, "oa", "--preset", "openai", "--model", "gpt-4o-mini")
    assert "OPENAI_API_KEY is not set" in added.stderr
    tested = cli("model", "test", "oa")
    assert tested.exit_code == 2 and "needs an API key" in tested.stderr
    assert cli("project", "create", "P").exit_code == 0
    assert cli("project", "set", "P", "--question-model", "oa").exit_code == 0
    run = cli("tags", "generate", "P", "--count", "2")
    assert run.exit_code != 0 and "needs an API key" in run.output
    assert fake_server.stats().total == 0  # nothing was sent without the key


def test_model_test_shows_the_model_the_server_reports(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reported_model="/models/gemma-3-270m-it-Q4_K_M.gguf")
    _add(cli, fake_server, "g", "--model", "gemma3")
    human = cli("model", "test", "g")
    assert human.exit_code == 0, human.output
    assert "model: /models/gemma-3-270m-it-Q4_K_M.gguf (configured: gemma3)" in human.stdout
    assert "warning: the server reports model" in human.stderr
    report = json.loads(cli("model", "test", "g", "--json").stdout)
    assert (report["model"], report["configured_model"]) == (
        "/models/gemma-3-270m-it-Q4_K_M.gguf",
        "gemma3",
    )
    assert report["model_matches"] is False
    # Records name the model that answered, as the server reports it.
    assert cli("project", "create", "P").exit_code == 0
    models = ("--question-model", "g", "--answer-model", "g")
    assert cli("project", "set", "P", *models).exit_code == 0
    assert cli("auto", "P", "--levels", "1", "--tags", "1", "--questions", "1").exit_code == 0
    records = json.loads(cli("dataset", "list", "P", "--json").stdout)["records"]
    assert [record["model"] for record in records] == ["/models/gemma-3-270m-it-Q4_K_M.gguf"]


def test_every_capability_gets_a_verdict_when_the_fallback_ping_fails(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(reject_response_format=True)
    fake_server.queue_faults("500")  # the plain request after the refusal
    _add(cli, fake_server, "old", "--model", "m", "--structured", "json_object")
    result = cli("model", "test", "old")
    assert result.exit_code == 1
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["structured output (json_object)"].startswith("refused (HTTP 400: ")
    assert lines["plain reply"].startswith("unknown (a plain request failed too: HTTP 500")
    assert lines["reasoning"].startswith("unknown (")


def test_a_context_overflow_is_no_verdict_on_structured_output(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(context_size=5)
    _add(cli, fake_server, "small", "--model", "m")
    report = json.loads(cli("model", "test", "small", "--json").stdout)
    verdict = report["verdicts"]["structured output (json_schema)"]
    assert verdict.startswith("unknown (") and "context size" in verdict


def test_a_stalled_server_is_reported_within_the_probe_timeout(
    cli: Cli, fake_server: FakeModelServer
) -> None:
    fake_server.configure(rate_stall=1.0, stall_seconds=120)
    _add(cli, fake_server, "stalled", "--model", "m")
    result = cli("model", "test", "stalled")
    assert result.exit_code == 2
    assert f"no response within {PROBE_TIMEOUT:g}s" in result.stderr
