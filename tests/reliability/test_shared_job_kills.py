"""Two `distillset worker` processes share one job on PostgreSQL; one is killed (SIGKILL)
mid-job. Nothing is lost (every question answered, every tag and leaf as planned), nothing
duplicated (no tag or question twice, no leaf over its questions, one answer each, each
reply paid once but the killed worker's requests in flight), the limit held."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from distillset.store import (
    Answer,
    LlmCall,
    Question,
    SlotLease,
    Store,
    Tag,
    Task,
    TaskWorker,
    WorkItem,
)
from distillset.testing import FakeModelServer
from helpers import make_project, wait_until

NAME = "Sports"
LIMIT = 4
TAGS, QUESTIONS = 3, 16  # 48 answers
STALE_SECONDS = "2"


def worker(home: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DISTILLSET_HOME": str(home),
        "DISTILLSET_HEARTBEAT_STALE_SECONDS": STALE_SECONDS,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "distillset", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def task_status(store: Store) -> str:
    with store.session() as session:
        return str(session.scalars(select(Task.status)).one())


def slot_holders(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(SlotLease.owner.distinct()))) or 0)


def count(store: Store, column: object) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("killed", ["owner", "joined"])
def test_a_worker_killed_during_a_shared_job_loses_and_duplicates_nothing(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
    killed: str,
) -> None:
    fake_server.configure(latency=0.5, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=LIMIT)
    queued = cli(
        "auto", NAME, "--levels", "1", "--tags", str(TAGS), "--questions", str(QUESTIONS),
        "--queue", "--yes",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output

    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers on the job", lambda: count(store, TaskWorker.owner) >= 2)
        wait_until("both workers holding slots", lambda: slot_holders(store) >= 2)
        # Both hold slots: requests are out at the server (0.5 s each) when one is killed.
        wait_until("requests in flight", lambda: fake_server.stats().in_flight >= 2)
        with store.session() as session:
            owner_pid = int(str(session.scalars(select(Task.owner)).one()).split(":")[1])
        owner = next(process for process in workers if process.pid == owner_pid)
        victim = owner if killed == "owner" else next(p for p in workers if p is not owner)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        wait_until("the job's end", lambda: task_status(store) not in ("running", "queued"))
    finally:
        for process in workers:
            process.terminate()
        outputs = [process.communicate(timeout=30)[0] for process in workers]
    output = "\n".join(outputs)
    with store.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.status == "succeeded", (task.last_error, output)
        per_question = session.execute(
            select(Answer.question_id, func.count()).group_by(Answer.question_id)
        ).all()
        twice_logged = session.scalar(
            select(func.count()).select_from(
                select(LlmCall.request_key)
                .where(LlmCall.status == "ok")
                .group_by(LlmCall.request_key)
                .having(func.count() > 1)
                .subquery()
            )
        )
    questions = count(store, Question.id)
    assert questions == TAGS * QUESTIONS
    assert len(per_question) == questions  # nothing lost
    assert all(answers == 1 for _question, answers in per_question)  # nothing duplicated
    assert twice_logged == 0
    stats = fake_server.stats()
    # Paid once each, but what the killed worker had in flight (at most its slots).
    assert stats.by_kind.get("answer", 0) <= questions + LIMIT
    assert stats.max_in_flight <= LIMIT


def test_a_cancel_stops_every_worker_of_a_shared_job(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
) -> None:
    fake_server.configure(latency=0.5, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=LIMIT)
    queued = cli(
        "auto", NAME, "--levels", "1", "--tags", str(TAGS), "--questions", str(QUESTIONS),
        "--queue", "--yes", "--json",
    )  # fmt: skip
    task_id = json.loads(queued.stdout)["id"]
    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers holding slots", lambda: slot_holders(store) >= 2)

        assert cli("tasks", "cancel", str(task_id)).exit_code == 0
        wait_until("the cancel", lambda: task_status(store) == "cancelled")
        wait_until("both workers to leave", lambda: count(store, TaskWorker.owner) == 0)
        wait_until("their requests to end", lambda: fake_server.stats().in_flight == 0)
        sent = fake_server.stats().total
        time.sleep(1.5)
        assert fake_server.stats().total == sent  # nobody sends anything more
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.communicate(timeout=30)
    with store.session() as session:
        assert session.scalar(select(func.count(SlotLease.owner))) == 0  # slots given back
        answers = session.scalar(select(func.count(Answer.id)))
    assert answers is not None and answers < TAGS * QUESTIONS


TREE_TAGS, TREE_QUESTIONS = 4, 3  # two levels: 4 + 16 tags, 16 leaves, 48 questions


def item_owners(store: Store, stage: str) -> set[str]:
    """The workers that finished items of ``stage``."""
    with store.session() as session:
        owners = session.scalars(
            select(WorkItem.owner).where(WorkItem.stage == stage, WorkItem.outcome == "done")
        )
        return {str(owner) for owner in owners}


def tree_items_done(store: Store) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count(WorkItem.id)).where(
                    WorkItem.stage.in_(["expand", "questions"]), WorkItem.outcome == "done"
                )
            )
            or 0
        )


@pytest.mark.parametrize("killed", ["owner", "joined", None])
def test_workers_share_a_jobs_expansions_and_top_ups_and_a_kill_duplicates_nothing(
    postgres_url: str,
    store: Store,
    fake_server: FakeModelServer,
    distillset_home: Path,
    cli: Callable[..., Result],
    killed: str | None,
) -> None:
    # Without a kill, slower replies: the tree grows for seconds, while both are on the job.
    fake_server.configure(latency=0.3 if killed else 1.0, log_prompts=False)
    make_project(store, fake_server.url, NAME, max_concurrency=LIMIT)
    queued = cli(
        "auto", NAME, "--levels", "2", "--tags", str(TREE_TAGS),
        "--questions", str(TREE_QUESTIONS), "--queue", "--yes",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output

    workers = [worker(distillset_home), worker(distillset_home)]
    try:
        wait_until("both workers on the job", lambda: count(store, TaskWorker.owner) >= 2)
        if killed is not None:
            # Killed while the tree still grows: top-ups are open and requests are out.
            wait_until("the first top-ups done", lambda: tree_items_done(store) >= 4)
            wait_until("requests in flight", lambda: fake_server.stats().in_flight >= 2)
            with store.session() as session:
                owner_pid = int(str(session.scalars(select(Task.owner)).one()).split(":")[1])
            owner = next(process for process in workers if process.pid == owner_pid)
            victim = owner if killed == "owner" else next(p for p in workers if p is not owner)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
        wait_until("the job's end", lambda: task_status(store) not in ("running", "queued"))
    finally:
        for process in workers:
            process.terminate()
        outputs = [process.communicate(timeout=30)[0] for process in workers]
    output = "\n".join(outputs)
    with store.session() as session:
        task = session.scalars(select(Task)).one()
        assert task.status == "succeeded", (task.last_error, output)
        children = {
            parent: kids
            for parent, kids in session.execute(
                select(Tag.parent_id, func.count()).group_by(Tag.parent_id)
            )
        }
        same_label = session.scalar(
            select(func.count()).select_from(
                select(Tag.parent_id, Tag.label)
                .group_by(Tag.parent_id, Tag.label)
                .having(func.count() > 1)
                .subquery()
            )
        )
        leaves = list(session.scalars(select(Tag.id).where(Tag.depth == 2)))
        per_leaf = {
            tag: asked
            for tag, asked in session.execute(
                select(Question.tag_id, func.count()).group_by(Question.tag_id)
            )
        }
        same_question = session.scalar(
            select(func.count()).select_from(
                select(Question.text_hash)
                .group_by(Question.text_hash)
                .having(func.count() > 1)
                .subquery()
            )
        )
        per_question = {
            question: answers
            for question, answers in session.execute(
                select(Answer.question_id, func.count()).group_by(Answer.question_id)
            )
        }
        twice_logged = session.scalar(
            select(func.count()).select_from(
                select(LlmCall.request_key)
                .where(LlmCall.status == "ok")
                .group_by(LlmCall.request_key)
                .having(func.count() > 1)
                .subquery()
            )
        )
        counters = task.counters
    # The tree exactly as planned: no expansion done twice made extra or duplicate tags.
    assert same_label == 0
    assert len(leaves) == TREE_TAGS * TREE_TAGS
    assert set(children.values()) == {TREE_TAGS}
    # Every leaf has exactly its questions (a top-up done again did not overshoot).
    assert same_question == 0
    assert {per_leaf.get(leaf, 0) for leaf in leaves} == {TREE_QUESTIONS}
    questions = count(store, Question.id)
    assert questions == TREE_TAGS * TREE_TAGS * TREE_QUESTIONS
    # Every question answered once.
    assert len(per_question) == questions and set(per_question.values()) == {1}
    assert twice_logged == 0
    stats = fake_server.stats()
    assert stats.max_in_flight <= LIMIT
    assert counters["tags"]["done"] == TREE_TAGS + TREE_TAGS * TREE_TAGS
    assert counters["questions"]["done"] == questions
    assert counters["answers"]["done"] == questions
    if killed is None:
        # Both workers expanded or topped up (not only answered), and both answered.
        assert len(item_owners(store, "questions") | item_owners(store, "expand")) == 2
        assert len(item_owners(store, "answer")) == 2
