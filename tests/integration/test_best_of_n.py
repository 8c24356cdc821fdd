"""Best-of-N: several teacher samples per question, through the CLI and real HTTP."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select
from typer.testing import Result

from distillset.store import Answer, Store
from distillset.testing import FakeModelServer

NAME = "Physical Education and Sports"
Cli = Callable[..., Result]


@pytest.fixture
def project(database: str, cli_project_factory: Callable[[str], str]) -> str:
    return cli_project_factory(NAME)


def samples_by_question(store: Store) -> dict[int, dict[int, Answer]]:
    found: dict[int, dict[int, Answer]] = defaultdict(dict)
    with store.session() as session:
        for answer in session.scalars(select(Answer)):
            session.expunge(answer)
            found[answer.question_id][answer.variant] = answer
    return found


def answer_requests(fake_server: FakeModelServer) -> list[dict[str, object]]:
    return [
        body
        for body in fake_server.stats().bodies
        if "JSON array" not in json.dumps(body) and '\\"score\\"' not in json.dumps(body)
    ]


def test_samples_give_each_question_distinct_records_at_the_run_temperature(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    result = cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "2")
    assert result.exit_code == 0, result.output
    fake_server.reset()

    result = cli("answers", "generate", NAME, "--samples", "3", "--temperature", "0.8", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["answers"]["done"] == 4  # variants 1 and 2 of two questions
    found = samples_by_question(store)
    assert len(found) == 2
    for variants in found.values():
        assert sorted(variants) == [0, 1, 2]
        texts = {answer.answer for answer in variants.values()}
        assert len(texts) == 3  # the samples differ
        for variant in (1, 2):
            sample = variants[variant]
            assert sample.reasoning and "Final answer:" in sample.answer
            assert sample.sampling is not None and sample.sampling["temperature"] == 0.8
    bodies = answer_requests(fake_server)
    assert len(bodies) == 4 and all(body["temperature"] == 0.8 for body in bodies)


def test_samples_resume_from_the_cache_by_variant_and_never_pay_twice(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    result = cli("auto", NAME, "--levels", "1", "--tags", "1", "--questions", "2", "--samples", "2")
    assert result.exit_code == 0, result.output
    before = {
        qid: {v: a.answer for v, a in vs.items()} for qid, vs in samples_by_question(store).items()
    }
    assert all(sorted(variants) == [0, 1] for variants in before.values())
    # A run that stopped before its samples were stored: the replies are in the call log.
    with store.session() as session:
        session.execute(delete(Answer).where(Answer.variant == 1))
    fake_server.reset()

    result = cli("answers", "generate", NAME, "--samples", "2", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counters"]["answers"]["done"] == 2
    assert fake_server.stats().total == 0  # every sample came from the cache, by its variant
    after = {
        qid: {v: a.answer for v, a in vs.items()} for qid, vs in samples_by_question(store).items()
    }
    assert after == before

    again = cli("answers", "generate", NAME, "--samples", "2", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counters"]["answers"]["planned"] == 0


def test_auto_plans_every_sample(cli: Cli, project: str) -> None:
    result = cli("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "2", "--samples", "3")

    assert result.exit_code == 0, result.output
    assert "4 questions, 12 answers" in result.stdout
    assert "answers 12/12" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--samples", "0"), "samples must be between 1 and 16"),
        (("--samples", "17"), "samples must be between 1 and 16"),
        (("--temperature", "2.5"), "temperature must be between 0.0 and 2.0"),
    ],
)
def test_sampling_options_out_of_range_are_refused(
    cli: Cli, project: str, fake_server: FakeModelServer, args: tuple[str, ...], message: str
) -> None:
    result = cli("answers", "generate", NAME, *args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert fake_server.stats().total == 0
