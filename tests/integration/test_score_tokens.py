"""`answers score-tokens`: soft labels for answers another model wrote, from a server that
scores given text (vLLM's prompt_logprobs, played by the fake server over real HTTP), on
both databases; a server that cannot score is refused in one line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset.answers import score_tokens as score_module
from distillset.config import Settings
from distillset.domain import Origin
from distillset.kinds import run_task
from distillset.llm.soft_labels import unpack
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project
from distillset.store import Answer, SoftLabel, Store, Task
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, assert_refused_in_one_line

Cli = Callable[..., Result]


@pytest.fixture
def project_name(database: str, store: Store, fake_server: FakeModelServer) -> str:
    """Sports with 5 records written by a closed model (no soft labels), and a teacher."""
    with store.session() as session:
        add_endpoint(session, "teacher", model="open-weights", base_url=fake_server.url)
        project = create_project(session, "Sports")
        project.max_retries = 0
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for index in range(5):
            add_record(
                session,
                project,
                tag,
                f"How do I pace run number {index}?",
                f"Start slowly, then hold an even effort for run {index}.",
                model="closed-api",
                system_prompt="Be precise." if index == 0 else None,
                prompt=f"Question: How do I pace run number {index}?",
            )
    return "Sports"


def labels_of(store: Store) -> dict[int, SoftLabel]:
    with store.session() as session:
        rows = session.scalars(select(SoftLabel)).all()
        session.expunge_all()
        return {row.answer_id: row for row in rows}


def test_score_tokens_adds_soft_labels_that_spell_each_answer(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    result = cli(
        "answers", "score-tokens", project_name, "--endpoint", "teacher", "--k", "5", "--all",
        "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["scored"] == {"planned": 5, "done": 5, "failed": 0, "skipped": 0}
    labels = labels_of(store)
    with store.session() as session:
        answers = {a.id: a for a in session.scalars(select(Answer))}
        statuses = {a.soft_label_status for a in answers.values()}
    assert statuses == {"captured"} and set(labels) == set(answers)
    for answer_id, row in labels.items():
        unpacked = unpack(row.data)
        # The answer's tokens exactly, each with its top 5 and ids; the answer starts at 0.
        assert unpacked.text_bytes == answers[answer_id].answer.encode()
        assert row.answer_start == 0 and row.has_ids and row.k == 5
        assert all(len(top) == 5 for top in unpacked.top_tokens)
        assert all(lp <= 0 for lp in unpacked.logprobs)
        assert row.tokenizer["model"] == "open-weights"
    # The teacher saw each record's own conversation, its answer as the open final turn.
    bodies = [b for b in fake_server.stats().bodies if b["messages"][-1]["role"] == "assistant"]
    scored = [b for b in bodies if "run number 0" in b["messages"][-2]["content"]]
    [first] = [b for b in scored if b["messages"][0]["content"] == "Be precise."]
    assert first["prompt_logprobs"] == 5 and first["continue_final_message"] is True
    assert first["messages"][1]["content"] == "Question: How do I pace run number 0?"
    assert first["add_generation_prompt"] is False

    # Run again: every record has soft labels now, nothing is sent but the probe.
    before = fake_server.stats().total
    again = cli("answers", "score-tokens", project_name, "--endpoint", "teacher", "--all", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counters"]["scored"]["skipped"] == 5
    assert fake_server.stats().total - before == 1


def test_a_server_that_cannot_score_is_refused_in_one_line(
    cli: Cli, store: Store, project_name: str, fake_server: FakeModelServer
) -> None:
    fake_server.configure(scores_prompts=False)  # as llama.cpp: the field is ignored
    assert_refused_in_one_line(
        cli,
        [
            (
                ("answers", "score-tokens", project_name, "--endpoint", "teacher", "--all"),
                "endpoint 'teacher' cannot score given text: the reply has no prompt_logprobs",
            ),
            (
                ("answers", "score-tokens", project_name, "--endpoint", "teacher"),
                "name records by id, select them with filters, or pass --all",
            ),
            (
                ("answers", "score-tokens", project_name, "--endpoint", "nope", "--all"),
                "nope",
            ),
        ],
    )
    with store.session() as session:
        assert session.scalars(select(Task)).all() == []
    assert labels_of(store) == {}


def test_a_stopped_scoring_resumes_with_the_records_left(
    store: Store,
    settings: Settings,
    project_name: str,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distillset import resolve
    from distillset.projects.lifecycle import get_project

    with store.session() as session:
        project = get_project(session, project_name)
        project.max_concurrency = 1
        task_id = score_module.create_score_task(
            session,
            project,
            endpoint="teacher",
            record_filter=resolve.record_filter(session, project, {"tag": "Running"}),
            k=3,
        ).id
    stored = 0
    original = score_module.ScoreTokensRun._store_labels

    def power_cut_after_two(self: score_module.ScoreTokensRun, *args: object) -> bool:
        nonlocal stored
        stored += 1
        if stored > 2:
            raise RuntimeError("power cut")
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(score_module.ScoreTokensRun, "_store_labels", power_cut_after_two)
    with pytest.raises(RuntimeError, match="power cut"):
        asyncio.run(run_task(store, settings, task_id))
    monkeypatch.undo()
    assert len(labels_of(store)) == 2

    resumed = asyncio.run(run_task(store, settings, task_id))

    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["scored"] == {"planned": 5, "done": 3, "failed": 0, "skipped": 2}
    assert len(labels_of(store)) == 5


def test_scores_that_do_not_spell_the_answer_fail_the_record(
    store: Store, settings: Settings, project_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillset import resolve
    from distillset.projects.lifecycle import get_project

    real = score_module.prompt_scores

    def off_by_one(body: object) -> list[object]:
        rows = real(body)
        return rows[:-1]  # the last token lost: the tokens no longer spell the answer

    monkeypatch.setattr(score_module, "prompt_scores", off_by_one)
    with store.session() as session:
        project = get_project(session, project_name)
        task_id = score_module.create_score_task(
            session, project, endpoint="teacher",
            record_filter=resolve.record_filter(session, project, {"tag": "Running"}),
        ).id  # fmt: skip

    summary = asyncio.run(run_task(store, settings, task_id))

    assert summary["status"] == "failed"
    assert summary["counters"]["scored"]["failed"] == 5  # type: ignore[index]
    assert "do not spell the stored answer" in str(summary["last_error"])
    assert labels_of(store) == {}


def test_score_tokens_from_python(
    store: Store, settings: Settings, project_name: str, fake_server: FakeModelServer
) -> None:
    from distillset import Project

    with store.session() as session:
        first = min(session.scalars(select(Answer.id)))
    summary = Project(project_name, settings=settings).score_tokens("teacher", ids=[first], k=2)

    assert summary["counters"]["scored"] == {"planned": 1, "done": 1, "failed": 0, "skipped": 0}
    assert set(labels_of(store)) == {first} and labels_of(store)[first].k == 2
