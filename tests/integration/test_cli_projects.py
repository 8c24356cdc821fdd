"""`distillset project ...` through the real command line on a temporary DISTILLSET_HOME."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import Result

from helpers import assert_refused_in_one_line

Cli = Callable[..., Result]


def test_create_list_show(cli: Cli) -> None:
    created = cli("project", "create", "Physical Education and Sports", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["topic"] == "Physical Education and Sports"

    cli("project", "create", "Chem", "--topic", "Chemistry", "--language", "zh")
    listed = json.loads(cli("project", "list", "--json").stdout)
    assert [(p["name"], p["topic"], p["language"]) for p in listed] == [
        ("Chem", "Chemistry", "zh"),
        ("Physical Education and Sports", "Physical Education and Sports", "en"),
    ]
    assert listed[0]["tags"] == 0

    shown = json.loads(cli("project", "show", "Chem", "--json").stdout)
    assert shown["topic"] == "Chemistry"
    assert shown["max_concurrency"] == 8

    plain = cli("project", "list")
    assert plain.stdout.splitlines()[0].split("\t")[:3] == ["name", "topic", "language"]
    assert "Chemistry" in plain.stdout


def test_set_changes_only_what_is_given(cli: Cli) -> None:
    cli("project", "create", "P")
    cli("model", "add", "q", "--base-url", "http://127.0.0.1:9/v1", "--model", "small")
    cli("model", "add", "a", "--base-url", "http://127.0.0.1:9/v1", "--model", "big")
    result = cli(
        "project", "set", "P",
        "--question-model", "q", "--answer-model", "a",
        "--max-concurrency", "32", "--rpm", "600", "--tpm", "100000",
        "--retries", "5", "--timeout", "45.5",
        "--answer-system-prompt", "Answer as a coach.", "--language", "zh",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("project", "show", "P", "--json").stdout)
    assert (
        shown
        | {
            "question_model": "q",
            "answer_model": "a",
            "max_concurrency": 32,
            "requests_per_minute": 600,
            "tokens_per_minute": 100000,
            "max_retries": 5,
            "request_timeout": 45.5,
            "answer_system_prompt": "Answer as a coach.",
            "language": "zh",
        }
        == shown
    )

    assert cli("project", "set", "P", "--retries", "1").exit_code == 0
    shown = json.loads(cli("project", "show", "P", "--json").stdout)
    assert (shown["max_retries"], shown["max_concurrency"]) == (1, 32)

    cli("project", "set", "P", "--answer-system-prompt", "")
    assert json.loads(cli("project", "show", "P", "--json").stdout)["answer_system_prompt"] is None


def test_set_unsets_a_model_with_none_or_empty(cli: Cli) -> None:
    cli("project", "create", "P")
    cli("model", "add", "q", "--base-url", "http://127.0.0.1:9/v1", "--model", "small")
    set_both = cli("project", "set", "P", "--question-model", "q", "--answer-model", "q")
    assert set_both.exit_code == 0, set_both.output

    cases = [(("none", "q"), (None, "q")), (("q", ""), ("q", None)), (("", "NONE"), (None, None))]
    for (question, answer), expected in cases:
        result = cli("project", "set", "P", "--question-model", question, "--answer-model", answer)
        assert result.exit_code == 0, result.output
        shown = json.loads(cli("project", "show", "P", "--json").stdout)
        assert (shown["question_model"], shown["answer_model"]) == expected

    missing = cli("project", "set", "P", "--answer-model", "ghost")
    assert missing.exit_code == 2 and "no model endpoint named 'ghost'" in missing.stderr


def _shown(cli: Cli, name: str = "P") -> dict[str, object]:
    return dict(json.loads(cli("project", "show", name, "--json").stdout))


@pytest.mark.parametrize("no_limit", ["none", "None", "0"])
def test_set_removes_the_rate_limits_with_none_or_0(cli: Cli, no_limit: str) -> None:
    cli("project", "create", "P")
    assert cli("project", "set", "P", "--rpm", "600", "--tpm", "90000").exit_code == 0
    assert (_shown(cli)["requests_per_minute"], _shown(cli)["tokens_per_minute"]) == (600, 90000)

    result = cli("project", "set", "P", "--rpm", no_limit)
    assert result.exit_code == 0, result.output
    shown = _shown(cli)
    assert (shown["requests_per_minute"], shown["tokens_per_minute"]) == (None, 90000)
    assert cli("project", "set", "P", "--tpm", no_limit).exit_code == 0
    assert _shown(cli)["tokens_per_minute"] is None


def test_set_refuses_a_blank_topic_and_bad_limits(cli: Cli) -> None:
    cli("project", "create", "P", "--topic", "Sports")
    cli("project", "set", "P", "--rpm", "60")
    cases = [
        (("project", "set", "P", "--topic", ""), "a project needs a topic"),
        (("project", "set", "P", "--topic", "   "), "a project needs a topic"),
        (("project", "set", "P", "--rpm", "lots"), "--rpm takes a whole number or 'none'"),
        (("project", "set", "P", "--tpm", "1.5"), "--tpm takes a whole number or 'none'"),
        (("project", "set", "P", "--rpm", "-5"), "requests_per_minute must be between"),
        (("project", "create", "Q", "--topic", "   "), "a project needs a topic"),
        (("project", "create", "   "), "a project needs a name"),
    ]
    assert_refused_in_one_line(cli, cases)
    shown = _shown(cli)
    assert (shown["topic"], shown["requests_per_minute"]) == ("Sports", 60)
    assert [p["name"] for p in json.loads(cli("project", "list", "--json").stdout)] == ["P"]

    assert cli("project", "set", "P", "--topic", "  Athletics ").exit_code == 0
    assert _shown(cli)["topic"] == "Athletics"


def test_user_mistakes_exit_2_with_one_line(cli: Cli) -> None:
    cli("project", "create", "P")
    cases = [
        (("project", "create", "P"), "already exists"),
        (("project", "show", "Nope"), "no project named 'Nope'"),
        (("project", "create", "Q", "--language", "xx"), "unknown language"),
        (("project", "set", "P", "--max-concurrency", "0"), "max_concurrency must be between"),
        (("project", "set", "P", "--question-model", "ghost"), "no model endpoint named"),
        (("project", "set", "P"), "nothing to change"),
        (("project", "delete", "Nope", "--yes"), "no project named"),
    ]
    assert_refused_in_one_line(cli, cases)


def test_bad_usage_is_one_line_and_exit_2(cli: Cli) -> None:
    cli("project", "create", "P")
    cases = [
        (("project", "set", "P", "--max-concurrency", "many"), "'--max-concurrency'"),
        (("project", "frobnicate"), "No such command 'frobnicate'"),
        (("tags", "add", "P"), "Missing option '--path'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert message in lines[0] and "--help" in lines[0]
    helped = cli("project")  # a group without a command still shows its help
    assert "create" in helped.output and "error:" not in helped.output


def test_delete_asks_unless_yes(cli: Cli) -> None:
    cli("project", "create", "P")
    cli("tags", "add", "P", "--path", "A > B")
    refused = cli("project", "delete", "P", input="n\n")
    assert refused.exit_code != 0
    assert "2 tags" in refused.output
    assert cli("project", "show", "P").exit_code == 0

    confirmed = cli("project", "delete", "P", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert cli("project", "show", "P").exit_code == 2

    cli("project", "create", "P2")
    cli("tags", "add", "P2", "--path", "A")
    deleted = cli("project", "delete", "P2", "--yes", "--json")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout) == {"deleted": "P2", "tags": 1, "questions": 0, "answers": 0}
    assert json.loads(cli("project", "list", "--json").stdout) == []


def test_unexpected_failure_exits_1_with_a_debug_hint(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("distillset.projects.list_projects", broken)
    result = cli("project", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unexpected RuntimeError: disk on fire (run with --debug for the traceback)"
    )
    debug = cli("--debug", "project", "list")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr
    assert debug.stderr.strip().endswith("error: unexpected RuntimeError: disk on fire")
