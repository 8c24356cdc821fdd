"""A real `distillset auto --dataset-type multi` process killed with SIGKILL in the middle of
its conversations resumes from the last committed turn, paying for no turn twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from distillset.config import Settings
from distillset.projects import update_multi_turn_setting
from distillset.projects.lifecycle import get_project
from distillset.store import Conversation, ConversationTurn, LlmCall, Store, Task
from distillset.testing import FakeModelServer
from helpers import make_project

NAME = "Physical Education and Sports"
POLL_LIMIT_SECONDS = 60
AUTO = ("auto", NAME, "--levels", "1", "--tags", "2", "--questions", "3")
CONVERSATIONS, ROUNDS = 6, 3
pytestmark = pytest.mark.usefixtures("database")


def distillset(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DISTILLSET_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "distillset", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def turns_per_conversation(store: Store) -> list[int]:
    with store.session() as session:
        rows = session.execute(
            select(func.count(ConversationTurn.id)).group_by(ConversationTurn.conversation_id)
        )
        return [int(count) for (count,) in rows]


def paid_twice(store: Store) -> int:
    """Request keys with more than one successful call: a reply paid for twice."""
    keys = (
        select(LlmCall.request_key)
        .where(LlmCall.status == "ok")
        .group_by(LlmCall.request_key)
        .having(func.count() > 1)
    )
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(keys.subquery())) or 0)


def test_sigkill_mid_conversation_then_resume_goes_on_from_the_last_turn(
    store: Store, settings: Settings, fake_server: FakeModelServer, distillset_home: Path
) -> None:
    fake_server.configure(latency=0.05, log_prompts=False)
    project_id = make_project(store, fake_server.url, NAME, max_concurrency=2)
    with store.session() as session:
        update_multi_turn_setting(
            session, get_project(session, project_id), scenario="a lesson", rounds=ROUNDS
        )

    run = distillset(distillset_home, *AUTO, "--dataset-type", "multi")
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    # Kill once some conversation is halfway: turns stored, turns still to come.
    while not any(3 <= count < 2 * ROUNDS for count in turns_per_conversation(store)):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    partial = turns_per_conversation(store)
    assert sum(partial) < CONVERSATIONS * 2 * ROUNDS
    with store.session() as session:
        calls_before = int(session.scalar(select(func.count(LlmCall.id))) or 0)

    resumed = distillset(distillset_home, *AUTO, "--dataset-type", "multi")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err

    assert turns_per_conversation(store) == [2 * ROUNDS] * CONVERSATIONS
    with store.session() as session:
        assert all(session.scalars(select(Conversation.complete)))
        for conversation_id in session.scalars(select(Conversation.id)):
            turns = session.execute(
                select(ConversationTurn.position, ConversationTurn.role)
                .where(ConversationTurn.conversation_id == conversation_id)
                .order_by(ConversationTurn.position)
            ).all()
            assert [tuple(turn) for turn in turns] == [
                (position, "assistant" if position % 2 else "user")
                for position in range(2 * ROUNDS)
            ]
        task = session.scalars(select(Task).order_by(Task.id.desc())).first()
        assert task is not None and task.status == "succeeded"
        assert task.counters["turns"]["done"] == task.counters["turns"]["planned"]
        turn_calls = session.scalar(
            select(func.count(LlmCall.id)).where(
                LlmCall.status == "ok", LlmCall.purpose.in_(["conversation", "follow_up"])
            )
        )
        calls_after = int(session.scalar(select(func.count(LlmCall.id))) or 0)
    # Every model-written turn was paid for exactly once, across both runs.
    assert turn_calls == CONVERSATIONS * (2 * ROUNDS - 1)
    assert paid_twice(store) == 0
    assert calls_after > calls_before
