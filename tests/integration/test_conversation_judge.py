"""The conversation judge as a resumable task, through real HTTP against the fake model
server on SQLite and PostgreSQL: progress counters, a budget that pauses it, cancel and
resume, failures retried, a rescore resumed without scoring twice, from the CLI and Python."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.domain import InvalidInputError, Origin
from distillset.kinds import run_task
from distillset.projects.lifecycle import get_project
from distillset.review import RecordFilter, create_conversation_judge_task
from distillset.review import conversation_judge as judge_module
from distillset.review.verdict import Verdict, parse_verdict
from distillset.runs.runner import ask_fresh
from distillset.store import Conversation, LlmCall, Store, Task
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_conversation, assert_refused_in_one_line

NAME = "Sports"
Cli = Callable[..., Result]
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def project_id(project_factory: Callable[..., int], store: Store) -> int:
    """Five complete conversations (three under Running) and one unfinished one."""
    project_id = project_factory(NAME, max_retries=0)
    with store.session() as session:
        project = get_project(session, project_id)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        swimming = add_tag_path(session, project, "Swimming", Origin.MANUAL)
        for index in range(5):
            tag = running if index < 3 else swimming
            turns = [
                (f"{tag.label} question {index}?", None),
                (f"Answer {index}.", "Some reasoning."),
                (f"And why {index}?", None),
                (f"Because {index}.", None),
            ]
            add_conversation(session, project, tag, turns)
        add_conversation(session, project, swimming, [("Unfinished?", None)], complete=False)
    return project_id


def scores(store: Store) -> dict[int, float | None]:
    with store.session() as session:
        rows = session.execute(select(Conversation.id, Conversation.score).order_by("id"))
        return {row.id: row.score for row in rows}


def reasons(store: Store) -> list[str | None]:
    with store.session() as session:
        return list(session.scalars(select(Conversation.score_reason).order_by(Conversation.id)))


def calls_of(store: Store, task_id: int) -> int:
    with store.session() as session:
        query = select(func.count(LlmCall.id)).where(LlmCall.task_id == task_id)
        return int(session.scalar(query) or 0)


def create_task(store: Store, project_id: int, **options: object) -> int:
    fresh = bool(options.pop("fresh", False))
    with store.session() as session:
        project = get_project(session, project_id)
        task = create_conversation_judge_task(session, project, **options)  # type: ignore[arg-type]
        if fresh:
            ask_fresh(task)
        return task.id


def test_the_judge_task_scores_complete_unscored_conversations_and_a_rerun_what_is_left(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    fake_server.queue_faults("500")  # the first verdict fails (no retries in this project)
    task_id = create_task(store, project_id)
    first = asyncio.run(run_task(store, settings, task_id))
    assert first["kind"] == "judge_conversations"
    assert first["counters"]["judged"] == {"planned": 5, "done": 4, "failed": 1, "skipped": 0}
    assert first["stages"] == [{"name": "judged", "label": "Conversations judged"}]
    judged = scores(store)
    assert sum(score is not None for score in judged.values()) == 4
    assert judged[max(judged)] is None  # the unfinished one is never judged

    # Resuming the same task retries its failure only.
    calls = calls_of(store, task_id)
    resumed = asyncio.run(run_task(store, settings, task_id))
    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["judged"] == {"planned": 5, "done": 5, "failed": 0, "skipped": 0}
    assert calls_of(store, task_id) - calls == 1
    # A new task has nothing left.
    again = asyncio.run(run_task(store, settings, create_task(store, project_id)))
    assert again["counters"]["judged"]["planned"] == 0


def test_a_resumed_rescore_scores_only_the_conversations_it_had_not_scored(
    store: Store,
    settings: Settings,
    project_id: int,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with store.session() as session:
        session.execute(Conversation.__table__.update().values(score=0.5, score_reason="by hand"))
    task_id = create_task(store, project_id, rescore=True, fresh=True)
    read = 0

    def power_cut_after_two(text: str) -> Verdict:
        nonlocal read
        read += 1
        if read > 2:
            raise RuntimeError("power cut")
        return parse_verdict(text)

    monkeypatch.setattr(judge_module, "parse_verdict", power_cut_after_two)
    with pytest.raises(RuntimeError, match="power cut"):
        asyncio.run(run_task(store, settings, task_id))
    assert reasons(store).count("by hand") == 4  # two of five complete ones, and the unfinished
    monkeypatch.undo()
    calls = calls_of(store, task_id)

    resumed = asyncio.run(run_task(store, settings, task_id))
    assert resumed["counters"]["judged"] == {"planned": 5, "done": 5, "failed": 0, "skipped": 0}
    assert calls_of(store, task_id) - calls == 3
    assert reasons(store).count("by hand") == 1  # the unfinished conversation's


def test_conversations_judge_command_filters_queues_cancels_and_resumes(
    cli: Cli, store: Store, project_id: int, fake_server: FakeModelServer
) -> None:
    ran = cli("conversations", "judge", NAME, "--tag", "Running", "--json")
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    assert summary["status"] == "succeeded"
    assert summary["counters"]["judged"]["done"] == 3
    assert sum(score is not None for score in scores(store).values()) == 3

    queued = cli("conversations", "judge", NAME, "--queue", "--json")
    assert queued.exit_code == 0, queued.output
    task_id = json.loads(queued.stdout)["id"]
    cancelled = cli("tasks", "cancel", str(task_id), "--json")
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    resumed = cli("tasks", "resume", str(task_id), "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["counters"]["judged"]["done"] == 2

    # Given ids are judged again, scored or not.
    again = cli("conversations", "judge", NAME, "--id", str(min(scores(store))))
    assert again.exit_code == 0, again.output
    assert "judged 1/1" in again.stdout
    assert_refused_in_one_line(
        cli,
        [
            (("conversations", "judge", NAME, "--min-score", "3"), "drop them, or rescore"),
            (("conversations", "judge", NAME, "--model", "nope"), "nope"),
            (("conversations", "judge", NAME, "--max-cost", "0"), "must be above 0"),
        ],
    )


def test_a_conversation_judge_pauses_at_its_budget_and_resumes_with_a_higher_one(
    cli: Cli, store: Store, project_id: int, fake_server: FakeModelServer
) -> None:
    assert cli("model", "set", "fake", "--price-in", "2000", "--price-out", "8000").exit_code == 0
    paused = cli("conversations", "judge", NAME, "--max-cost", "1", "--json")
    assert paused.exit_code == 3, paused.output
    summary = json.loads(paused.stdout)
    assert summary["status"] == "paused"
    assert summary["last_error"].startswith("budget reached")
    assert sum(score is not None for score in scores(store).values()) < 5

    resumed = cli("tasks", "resume", str(summary["id"]), "--max-cost", "1000", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    assert sum(score is not None for score in scores(store).values()) == 5
    with store.session() as session:
        assert session.get_one(Task, summary["id"]).params["max_cost"] == 1000.0


def test_python_judge_conversations_is_a_task_with_filters(
    settings: Settings, project_id: int, store: Store
) -> None:
    project = Project(NAME, settings=settings, store=store)
    summary = project.judge_conversations(tag="Swimming")
    assert summary["status"] == "succeeded"
    assert summary["counters"]["judged"]["done"] == 2
    rescored = project.judge_conversations(rescore=True, min_score=0)
    assert rescored["counters"]["judged"]["done"] == 2
    with store.session() as session:
        project_row = get_project(session, project_id)
        with pytest.raises(InvalidInputError, match="single records only"):
            create_conversation_judge_task(
                session, project_row, record_filter=RecordFilter(search="x")
            )
