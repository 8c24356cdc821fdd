"""Multi-turn conversations against the fake model server: real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select

from distillset.answers import advance_conversation, make_conversation
from distillset.answers.conversations import TurnOutcome
from distillset.auto import create_answers_job
from distillset.config import Settings
from distillset.domain import Origin, text_hash
from distillset.generation.context import DistillContext, load_context
from distillset.kinds import run_task
from distillset.llm import open_gateway
from distillset.projects import lifecycle as projects
from distillset.projects import update_multi_turn_setting
from distillset.projects.endpoints import get_endpoint, update_endpoint
from distillset.store import Conversation, ConversationTurn, Question, Store
from distillset.tags import tree as tags
from distillset.testing import FakeModelServer
from distillset.testing.fake_content import answer_for

TOPIC = "Physical Education and Sports"
QUESTION = "How do sprinters train their start?"
# Every test on SQLite, then on PostgreSQL.
pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def project_id(project_factory: Callable[..., int], store: Store) -> int:
    project_id = project_factory(TOPIC, max_concurrency=4)
    with store.session() as session:
        project = projects.get_project(session, project_id)
        update_multi_turn_setting(
            session,
            project,
            scenario="a first lesson on the track",
            user_role="a student",
            assistant_role="a PE teacher",
            rounds=3,
        )
        tag = tags.add_tag_path(session, project, "Athletics > Sprinting")
        session.add(
            Question(
                project_id=project_id,
                tag_id=tag.id,
                text=QUESTION,
                text_hash=text_hash(QUESTION),
                origin=Origin.MANUAL.value,
            )
        )
    return project_id


def question_id_of(store: Store) -> int:
    with store.session() as session:
        found = session.scalar(select(Question.id).where(Question.text == QUESTION))
        assert found is not None
        return found


def context_of(store: Store, settings: Settings, project_id: int) -> DistillContext:
    with store.session() as session:
        return load_context(session, projects.get_project(session, project_id), settings)


def converse(store: Store, context: DistillContext, question_id: int, *, whole: bool = True):
    async def main() -> TurnOutcome:
        async with open_gateway(store, context.limits, project_id=context.project_id) as gateway:
            step = make_conversation if whole else advance_conversation
            return await step(store, gateway, context, question_id)

    return asyncio.run(main())


def stored_turns(store: Store) -> list[ConversationTurn]:
    with store.session() as session:
        turns = session.scalars(select(ConversationTurn).order_by(ConversationTurn.position))
        return list(turns)


def test_a_conversation_alternates_teacher_and_simulated_user(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    context = context_of(store, settings, project_id)
    question_id = question_id_of(store)

    outcome = converse(store, context, question_id)

    assert outcome.error is None and outcome.complete
    turns = stored_turns(store)
    assert [turn.role for turn in turns] == ["user", "assistant"] * 3
    assert turns[0].content == QUESTION
    reasoning, answer = answer_for(QUESTION)
    assert (turns[1].content, turns[1].reasoning) == (answer, reasoning)
    follow_ups = [turn.content for turn in turns[2::2]]
    assert len(set(follow_ups)) == 2 and all(text.endswith("?") for text in follow_ups)
    assert all(turn.reasoning is None for turn in turns[::2])
    # Each teacher turn answers the latest user turn, its reasoning captured per turn.
    for user, teacher in zip(turns[2::2], turns[3::2], strict=True):
        assert (teacher.reasoning, teacher.content) == answer_for(user.content)
    with store.session() as session:
        conversation = session.scalar(select(Conversation))
        assert conversation is not None and conversation.complete
        assert conversation.setting["scenario"] == "a first lesson on the track"
    prompts = fake_server.stats().prompts
    simulator = [prompt for prompt in prompts if "<conversation>" in prompt]
    assert len(simulator) == 2
    assert f"{TOPIC} > Athletics > Sprinting" in simulator[0]
    assert "a first lesson on the track" in simulator[0] and "a student" in simulator[0]


def test_a_complete_conversation_asks_nothing_more(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    context = context_of(store, settings, project_id)
    question_id = question_id_of(store)
    converse(store, context, question_id)
    sent = fake_server.stats().total

    again = converse(store, context, question_id, whole=False)

    assert again.complete and again.position is None
    assert fake_server.stats().total == sent
    assert len(stored_turns(store)) == 6


def test_a_cut_teacher_turn_is_recorded_and_the_next_run_goes_on(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        projects.update_project(session, projects.get_project(session, project_id), max_retries=0)
    context = context_of(store, settings, project_id)
    question_id = question_id_of(store)
    first = converse(store, context, question_id, whole=False)
    assert first.position == 1
    fake_server.configure(rate_truncated=1.0)

    cut = converse(store, context, question_id)

    assert cut.error is not None and "finish_reason=length" in cut.error
    assert len(stored_turns(store)) == 2
    with store.session() as session:
        conversation = session.scalar(select(Conversation))
        assert conversation is not None and conversation.last_error
    fake_server.configure(rate_truncated=0.0)
    assert converse(store, context, question_id).complete
    assert len(stored_turns(store)) == 6


@pytest.mark.parametrize(
    ("rule", "passes_reasoning", "works"),
    [
        ("require", True, True),
        ("require", False, False),
        ("forbid", False, True),
        ("forbid", True, False),
    ],
)
def test_reasoning_goes_back_in_the_history_as_the_endpoint_says(
    store: Store,
    settings: Settings,
    project_id: int,
    fake_server: FakeModelServer,
    rule: str,
    passes_reasoning: bool,
    works: bool,
) -> None:
    fake_server.configure(history_reasoning=rule, reasoning_style="reasoning_content")
    with store.session() as session:
        projects.update_project(session, projects.get_project(session, project_id), max_retries=0)
        update_endpoint(
            session, get_endpoint(session, "fake"), reasoning_in_history=passes_reasoning
        )
    context = context_of(store, settings, project_id)

    outcome = converse(store, context, context_question := question_id_of(store))

    assert context_question
    assert (outcome.error is None) is works
    assert len(stored_turns(store)) == (6 if works else 3)


@pytest.mark.parametrize(
    ("language", "marker"),
    [("zh", "目前的对话"), ("tr", "Şimdiye kadarki konuşma"), ("fr", "French")],
)
def test_the_user_simulator_is_asked_in_the_project_language(
    store: Store,
    settings: Settings,
    project_id: int,
    fake_server: FakeModelServer,
    language: str,
    marker: str,
) -> None:
    with store.session() as session:
        projects.update_project(
            session, projects.get_project(session, project_id), language=language
        )
    context = context_of(store, settings, project_id)

    assert converse(store, context, question_id_of(store)).complete

    simulator = [prompt for prompt in fake_server.stats().prompts if "<conversation>" in prompt]
    assert len(simulator) == 2 and all(marker in prompt for prompt in simulator)
    teacher_system = fake_server.stats().bodies[0]["messages"][0]["content"]
    assert "a PE teacher" in teacher_system and "a first lesson on the track" in teacher_system


def test_a_started_conversation_is_planned_and_finished_from_its_last_turn(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    context = context_of(store, settings, project_id)
    question_id = question_id_of(store)
    for _turn in range(2):  # the first reply and the first follow-up
        converse(store, context, question_id, whole=False)
    sent = fake_server.stats().total

    with store.session() as session:
        job = create_answers_job(session, settings, project_id, dataset_type="multi")
    plan = job.plan

    # Three turns left of six: two replies and one follow-up; no single answer asked.
    assert (plan.conversations, plan.turns, plan.answers) == (1, 3, 0)
    assert (plan.calls["conversation"], plan.calls["follow_up"]) == (2, 1)
    summary = asyncio.run(run_task(store, settings, job.task_id))
    assert summary["status"] == "succeeded"
    assert summary["counters"]["turns"] == {"planned": 3, "done": 3, "failed": 0, "skipped": 0}
    assert fake_server.stats().total == sent + 3
    assert [turn.position for turn in stored_turns(store)] == list(range(6))
