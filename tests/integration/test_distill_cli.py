"""The distillation commands through the CLI, against the fake model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from distillset import Project
from distillset.testing import FakeModelServer

NAME = "Physical Education and Sports"
Cli = Callable[..., Result]


@pytest.fixture
def project(cli_project_factory: Callable[[str], str]) -> str:
    return cli_project_factory(NAME)


def test_auto_prints_the_plan_then_a_summary(cli: Cli, project: str) -> None:
    result = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "2")

    assert result.exit_code == 0, result.output
    assert "create 2 tags (2 leaves), 4 questions, 4 answers" in result.stdout
    assert "succeeded" in result.stdout and "answers 4/4" in result.stdout


def test_auto_json_is_one_machine_readable_document(cli: Cli, project: str) -> None:
    result = cli("auto", NAME, "--levels", "2", "--tags", "2", "--questions", "1", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["kind"] == "auto_distill"
    assert summary["counters"]["tags"] == {"planned": 6, "done": 6, "failed": 0, "skipped": 0}
    assert summary["params"]["levels"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--levels", "7"), "levels must be between 1 and 6"),
        (("--tags", "0"), "tags per level must be between 1 and 100"),
        (("--questions", "101"), "questions per leaf must be between 1 and 100"),
    ],
)
def test_auto_refuses_out_of_range_values_with_exit_2(
    cli: Cli, project: str, fake_server: FakeModelServer, args: tuple[str, ...], message: str
) -> None:
    result = cli("auto", NAME, *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert fake_server.stats().total == 0


def test_an_unset_model_is_a_clear_error(cli: Cli) -> None:
    cli("project", "create", "Empty")
    result = cli("tags", "generate", "Empty", "--count", "3")

    assert result.exit_code == 2
    assert "set it with `distillset project set 'Empty' --question-model ALIAS`" in result.stderr


def test_step_by_step_tags_questions_answers(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    assert cli("tags", "generate", NAME, "--count", "2").exit_code == 0
    tree = json.loads(cli("tags", "export", NAME, "--format", "json").stdout)
    first = tree[0]["label"] if isinstance(tree, list) else tree["children"][0]["label"]
    assert cli("tags", "generate", NAME, "--parent", first, "--count", "2").exit_code == 0
    # Sub-tags of an aspect are facets of it, without the topic again: "Key Concepts in ...".
    leaf = f"{first} > Key Concepts in {first.removesuffix(' of ' + NAME)}"

    generated = cli("questions", "generate", NAME, "--tag", leaf, "--count", "3")
    assert generated.exit_code == 0, generated.output
    listed = json.loads(cli("questions", "list", NAME, "--tag", first, "--json").stdout)
    assert len(listed) == 3 and not any(row["answered"] for row in listed)
    assert all(row["tag"] == leaf for row in listed)

    one = cli("answers", "generate", NAME, "--question", str(listed[0]["id"]))
    assert one.exit_code == 0, one.output
    rest = cli("answers", "generate", NAME, "--json")
    assert json.loads(rest.stdout)["counters"]["answers"]["planned"] == 2
    listed = json.loads(cli("questions", "list", NAME, "--json").stdout)
    assert all(row["answered"] for row in listed)

    calls = fake_server.stats().total
    again = cli("answers", "generate", NAME, "--json")
    assert json.loads(again.stdout)["counters"]["answers"]["planned"] == 0
    assert fake_server.stats().total == calls


def test_tasks_list_show_and_cancel_a_finished_task(cli: Cli, project: str) -> None:
    cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1")

    rows = json.loads(cli("tasks", "list", NAME, "--json").stdout)
    assert [(row["kind"], row["status"]) for row in rows] == [("auto_distill", "succeeded")]
    shown = json.loads(cli("tasks", "show", str(rows[0]["id"]), "--json").stdout)
    assert shown["events"][0]["message"].startswith("started")
    assert shown["events"][-1]["message"] == "finished"

    refused = cli("tasks", "cancel", str(rows[0]["id"]))
    assert refused.exit_code == 2 and "already finished" in refused.stderr
    missing = cli("tasks", "show", "999")
    assert missing.exit_code == 2 and "no task 999" in missing.stderr


def test_prompts_show_set_reset(cli: Cli, project: str, tmp_path: Path) -> None:
    default = cli("prompts", "show", NAME, "questions").stdout
    assert "{path}" in default and "JSON array" in default

    bad = tmp_path / "bad.txt"
    bad.write_text("Write {count} questions.", encoding="utf-8")
    refused = cli("prompts", "set", NAME, "questions", str(bad))
    assert refused.exit_code == 2
    assert "must contain the placeholder(s) {path}, {existing}" in refused.stderr

    good = tmp_path / "good.txt"
    good.write_text(
        "Topic: {path}\nKnown:\n{existing}\nWrite exactly {count} questions as a JSON array.",
        encoding="utf-8",
    )
    assert cli("prompts", "set", NAME, "questions", str(good)).exit_code == 0
    shown = json.loads(cli("prompts", "show", NAME, "questions", "--json").stdout)
    assert shown["overridden"] and shown["template"].startswith("Topic: {path}")

    reset = cli("prompts", "reset", NAME, "questions")
    assert reset.exit_code == 0 and "reset to the default" in reset.stdout
    assert cli("prompts", "show", NAME, "questions").stdout == default


def test_an_overridden_prompt_is_what_the_model_receives(
    cli: Cli, project: str, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    template = tmp_path / "tags.txt"
    template.write_text(
        "CUSTOM for {path}. Avoid:\n{existing}\nGive exactly {count} labels as a JSON array.",
        encoding="utf-8",
    )
    cli("prompts", "set", NAME, "tags", str(template))

    assert cli("tags", "generate", NAME, "--count", "2").exit_code == 0

    assert fake_server.stats().prompts[0].startswith(f"CUSTOM for {NAME}.")


def test_unknown_prompt_kind_is_refused(cli: Cli, project: str) -> None:
    result = cli("prompts", "show", NAME, "summary")
    assert result.exit_code == 2 and "unknown prompt kind 'summary'" in result.stderr


def test_the_plan_shows_an_estimated_cost_when_the_model_has_prices(cli: Cli, project: str) -> None:
    priced = cli("model", "set", "fake", "--price-in", "1", "--price-out", "2")
    assert priced.exit_code == 0, priced.output

    result = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "1")

    assert result.exit_code == 0, result.output
    assert "estimated cost 0.00" in result.stdout
    assert "cost 0.0" in result.stdout.splitlines()[-1]  # the calls line reports the real cost


def test_resample_replaces_the_listed_answers_with_new_samples(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    assert cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "2").exit_code == 0
    listed = json.loads(cli("dataset", "list", NAME, "--json").stdout)
    first = listed["records"][0]
    question_id = first["question_id"]
    sent = fake_server.stats().total

    result = cli("answers", "generate", NAME, "-q", str(question_id), "--resample", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["answers"]["done"] == 1
    assert fake_server.stats().total == sent + 1  # a new request, never the stored reply
    # Replaced in place: the same record, made again now.
    again = json.loads(cli("dataset", "show", NAME, str(first["id"]), "--json").stdout)
    assert again["question_id"] == question_id and again["answer"]
    assert again["created_at"] > first["created_at"]

    refused = cli("answers", "generate", NAME, "--resample")
    assert refused.exit_code == 2
    assert "a new sample is asked of listed questions only" in refused.stderr


def test_estimates_use_the_endpoints_observed_call_sizes_once_there_are_some(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    assert cli("model", "set", "fake", "--price-in", "1", "--price-out", "2").exit_code == 0
    assert cli("tags", "generate", NAME, "--count", "1").exit_code == 0
    # Only tag lists were seen: questions and answers still use the default sizes, and the
    # plan says so.
    before = Project(NAME).plan(levels=1, tags=3, questions=2)
    assert before.estimate_basis["tags"].startswith("average of the endpoint's last 1 calls")
    assert before.estimate_basis["answer"].startswith("default token sizes")
    shown = cli("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "2", "--yes")
    assert "answer, questions: default token sizes" in shown.stdout

    after = Project(NAME).plan(levels=1, tags=4, questions=2)
    assert all(basis.startswith("average of") for basis in after.estimate_basis.values())
    # The fake teacher's answers are short, far under the 900 output tokens assumed before:
    # per answer, the estimate now follows what was seen.
    per_answer_before = 80 * 1 + 900 * 2
    assert after.estimated_cost is not None
    assert after.estimated_cost * 1e6 < after.calls["answer"] * per_answer_before


def test_a_blank_tag_path_is_refused_not_read_as_the_whole_project(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    assert cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1").exit_code == 0
    sent = fake_server.stats().total
    for args in (
        ("answers", "generate", NAME, "--tag", ""),
        ("questions", "list", NAME, "--tag", " "),
    ):
        refused = cli(*args)
        assert refused.exit_code == 2, (args, refused.output)
    assert fake_server.stats().total == sent
