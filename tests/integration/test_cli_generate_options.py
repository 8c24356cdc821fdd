"""Generation options through the CLI against the fake model server: --no-cache for a fresh
sample (kept by resume), --add versus --count, an auto --topic, and paged question lists."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import update
from typer.testing import Result

from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings
from distillset.store import Answer, Store
from distillset.testing import FakeModelServer

NAME = "Sports"
Cli = Callable[..., Result]


@pytest.fixture
def project(cli_project_factory: Callable[[str], str]) -> str:
    return cli_project_factory(NAME)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def calls(result: Result) -> dict[str, int]:
    return json.loads(ok(result).stdout)["counters"]["calls"]


def delete_only_record(cli: Cli) -> None:
    records = json.loads(ok(cli("dataset", "list", NAME, "--json")).stdout)["records"]
    assert len(records) == 1
    ok(cli("dataset", "delete", NAME, str(records[0]["id"]), "--yes"))


def leaf(cli: Cli) -> str:
    rows = json.loads(ok(cli("questions", "list", NAME, "--json")).stdout)
    return str(rows[0]["tag"])


def test_a_deleted_record_is_answered_afresh_and_no_cache_asks_again_too(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1"))
    delete_only_record(cli)
    # A user who deletes a record wants a new one, not the stored reply (issue 11, item 5).
    again = calls(cli("answers", "generate", NAME, "--json"))
    assert again["cached"] == 0 and again["requests"] == 1

    delete_only_record(cli)
    before = fake_server.stats().total
    fresh = cli("answers", "generate", NAME, "--no-cache", "--json")
    assert calls(fresh)["requests"] == 1 and calls(fresh)["cached"] == 0
    assert json.loads(fresh.stdout)["params"]["no_cache"] is True
    assert fake_server.stats().total == before + 1


def test_a_resume_keeps_no_cache_and_resume_can_ask_for_it(
    cli: Cli, project: str, store: Store, settings: Settings, fake_server: FakeModelServer
) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1"))
    delete_only_record(cli)
    with store.session() as session:
        fresh_task = jobs.create_answers_job(
            session, settings, resolve.project_id(session, NAME), no_cache=True
        ).task_id
    assert calls(cli("tasks", "resume", str(fresh_task), "--json"))["requests"] == 1

    delete_only_record(cli)
    with store.session() as session:
        plain_task = jobs.create_answers_job(
            session, settings, resolve.project_id(session, NAME)
        ).task_id
    resumed = cli("tasks", "resume", str(plain_task), "--no-cache", "--json")
    assert calls(resumed) == calls(resumed) | {"requests": 1, "cached": 0}


def test_judge_no_cache_asks_the_model_again(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "2"))
    ok(cli("judge", NAME))

    def unscore() -> None:
        with store.session() as session:
            session.execute(update(Answer).values(score=None))

    unscore()
    before = fake_server.stats().total
    ok(cli("judge", NAME))
    assert fake_server.stats().total == before  # the same requests: answered from the cache
    unscore()
    ok(cli("judge", NAME, "--no-cache"))
    assert fake_server.stats().total == before + 2


def test_add_creates_more_than_there_are_and_count_tops_up(cli: Cli, project: str) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "2"))
    tag = leaf(cli)

    added = json.loads(
        ok(cli("questions", "generate", NAME, "--tag", tag, "--add", "3", "--json")).stdout
    )
    assert added["counters"]["questions"]["done"] == 3
    assert added["params"]["questions_per_leaf"] == 5
    topped = json.loads(
        ok(cli("questions", "generate", NAME, "--tag", tag, "--count", "5", "--json")).stdout
    )
    assert topped["counters"]["questions"]["planned"] == 0

    more_tags = json.loads(ok(cli("tags", "generate", NAME, "--add", "1", "--json")).stdout)
    assert more_tags["counters"]["tags"] == {"planned": 1, "done": 1, "failed": 0, "skipped": 0}
    assert more_tags["params"]["tags_per_level"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --count"),
        (("--count", "3", "--add", "2"), "give either --count"),
        (("--add", "0"), "add must be between 1 and 100"),
        (("--add", "99"), "would make 101"),
    ],
)
def test_count_and_add_mistakes_exit_2(
    cli: Cli, project: str, fake_server: FakeModelServer, args: tuple[str, ...], message: str
) -> None:
    ok(cli("tags", "generate", NAME, "--count", "2"))
    calls_before = fake_server.stats().total
    result = cli("tags", "generate", NAME, *args)
    assert result.exit_code == 2 and message in result.stderr
    assert fake_server.stats().total == calls_before


def test_auto_topic_on_an_existing_tree_is_refused(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "1"))
    calls_before = fake_server.stats().total

    refused = cli("auto", NAME, "--topic", "Chess", "--levels", "1", "--tags", "1")
    assert refused.exit_code == 2
    assert "distillset project set 'Sports' --topic 'Chess'" in refused.stderr
    assert fake_server.stats().total == calls_before
    assert json.loads(ok(cli("project", "show", NAME, "--json")).stdout)["topic"] == NAME
    # The project's own topic, spelled out, is no change.
    ok(cli("auto", NAME, "--topic", NAME, "--levels", "1", "--tags", "1", "--questions", "1"))


def test_auto_topic_on_an_empty_tree_becomes_the_projects(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    ok(cli("auto", NAME, "--topic", "Chess", "--levels", "1", "--tags", "1", "--questions", "1"))

    assert json.loads(ok(cli("project", "show", NAME, "--json")).stdout)["topic"] == "Chess"
    tag_prompts = [p for p in fake_server.stats().prompts if "Chess" in p]
    assert tag_prompts and not any("Sports" in p for p in tag_prompts)


def test_questions_list_pages_by_id(cli: Cli, project: str) -> None:
    ok(cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "5"))
    every = json.loads(ok(cli("questions", "list", NAME, "--json")).stdout)
    ids = [row["id"] for row in every]
    assert len(ids) == 5 and ids == sorted(ids)

    first = ok(cli("questions", "list", NAME, "--limit", "2"))
    assert [line.split("\t")[0] for line in first.stdout.splitlines()[1:]] == [
        str(i) for i in ids[:2]
    ]
    assert f"--after {ids[1]}" in first.stderr
    page = json.loads(
        ok(cli("questions", "list", NAME, "--limit", "2", "--after", str(ids[1]), "--json")).stdout
    )
    assert [row["id"] for row in page] == ids[2:4]
    assert page[0]["tag"] == every[2]["tag"] and page[0]["tag"]
    last = ok(cli("questions", "list", NAME, "--limit", "2", "--after", str(ids[3])))
    assert len(last.stdout.splitlines()) == 2 and "--after" not in last.stderr
