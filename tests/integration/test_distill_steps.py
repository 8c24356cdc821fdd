"""The distillation steps against the fake model server: real HTTP, a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select

from distillset.answers.generate import answer_question
from distillset.config import Settings
from distillset.domain import InvalidInputError, normalize_text
from distillset.generation.context import DistillContext, load_context
from distillset.llm import Gateway, open_gateway
from distillset.projects import lifecycle as projects
from distillset.questions.generate import generate_questions
from distillset.store import Answer, LlmCall, Question, Store, Tag
from distillset.tags import tree as tags
from distillset.tags.generate import generate_tags
from distillset.testing import FakeModelServer
from distillset.testing.fake_config import LIST_QUIRKS, REASONING_STYLES
from distillset.testing.fake_content import answer_for

TOPIC = "Physical Education and Sports"
T = TypeVar("T")


@pytest.fixture
def project_id(project_factory: Callable[..., int]) -> int:
    return project_factory(TOPIC, max_concurrency=4)


def context_of(store: Store, settings: Settings, project_id: int) -> DistillContext:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        return load_context(session, project, settings)


def run(store: Store, context: DistillContext, step: Callable[[Gateway], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_gateway(store, context.limits, project_id=context.project_id) as gateway:
            return await step(gateway)

    return asyncio.run(main())


def labels_under(store: Store, project_id: int, parent_id: int | None) -> list[str]:
    with store.session() as session:
        return [tag.label for tag in tags.children(session, project_id, parent_id)]


def test_tag_path_and_siblings_reach_the_prompt(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        parent = tags.add_tag_path(session, project, "Ball Games > Football")
        tags.add_children(session, project_id, parent, ["Passing drills"])
        parent_id = parent.id
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: generate_tags(store, gw, context, parent_id, 3))

    assert len(outcome.created) == 2
    prompt = fake_server.stats().prompts[-1]
    assert f"{TOPIC} > Ball Games > Football" in prompt
    assert "- Passing drills" in prompt
    assert "exactly 2" in prompt and "JSON array" in prompt


def test_top_up_creates_only_the_missing_tags(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        tags.add_tag_path(session, project, "Athletics")
        tags.add_tag_path(session, project, "Swimming")
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: generate_tags(store, gw, context, None, 5))
    assert (outcome.wanted, len(outcome.created), outcome.missing) == (3, 3, 0)
    labels = labels_under(store, project_id, None)
    assert labels[:2] == ["Athletics", "Swimming"] and len(labels) == 5
    calls = fake_server.stats().total

    again = run(store, context, lambda gw: generate_tags(store, gw, context, None, 5))
    assert again.created == [] and again.wanted == 0
    assert fake_server.stats().total == calls  # nothing missing: no request at all


@pytest.mark.parametrize("quirk", LIST_QUIRKS)
def test_quirky_lists_end_with_exactly_the_asked_distinct_tags(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer, quirk: str
) -> None:
    fake_server.configure(**{quirk: 1.0})
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: generate_tags(store, gw, context, None, 6))

    assert outcome.missing == 0
    _assert_clean_and_distinct(labels_under(store, project_id, None), 6)


@pytest.mark.parametrize("quirk", LIST_QUIRKS)
def test_quirky_lists_end_with_exactly_the_asked_distinct_questions(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer, quirk: str
) -> None:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        tag_id = tags.add_tag_path(session, project, "Athletics > Sprinting").id
    fake_server.configure(**{quirk: 1.0})
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: generate_questions(store, gw, context, tag_id, 6))

    assert outcome.missing == 0
    with store.session() as session:
        texts = list(session.scalars(select(Question.text).where(Question.tag_id == tag_id)))
    _assert_clean_and_distinct(texts, 6)
    assert all(text.endswith("?") and "Sprinting" in text for text in texts)


def _assert_clean_and_distinct(texts: list[str], count: int) -> None:
    assert len(texts) == count
    assert len({normalize_text(text) for text in texts}) == count
    for text in texts:
        assert not text[0].isdigit() and text[0] not in "-*\"'“" and text[-1] not in "\"'”,"
        assert "`" not in text and "**" not in text


def test_too_few_items_are_asked_for_again_with_a_new_attempt(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    fake_server.configure(too_few=1.0)
    context = context_of(store, settings, project_id)

    run(store, context, lambda gw: generate_tags(store, gw, context, None, 8))

    prompts = fake_server.stats().prompts
    assert len(prompts) > 1
    assert "exactly 8" in prompts[0] and "exactly 4" in prompts[1]  # the rest, not all again


def test_questions_top_up_with_existing_questions_in_the_prompt(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        tag_id = tags.add_tag_path(session, project, "Athletics > Sprinting").id
    context = context_of(store, settings, project_id)

    first = run(store, context, lambda gw: generate_questions(store, gw, context, tag_id, 3))
    second = run(store, context, lambda gw: generate_questions(store, gw, context, tag_id, 5))

    assert len(first.created) == 3 and len(second.created) == 2
    with store.session() as session:
        questions = list(session.scalars(select(Question).where(Question.tag_id == tag_id)))
    assert len(questions) == 5
    assert {q.origin for q in questions} == {"distilled"} and {q.model for q in questions} == {
        "fake"
    }
    prompt = fake_server.stats().prompts[-1]
    assert f"{TOPIC} > Athletics > Sprinting" in prompt
    assert all(f"- {q.text}" in prompt for q in questions[:3])


def test_a_question_stored_elsewhere_in_the_project_is_not_stored_twice(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        first_tag = tags.add_tag_path(session, project, "Sprinting").id
        # The same leaf label elsewhere makes the fake model propose the same questions.
        second_tag = tags.add_tag_path(session, project, "Athletics > Sprinting").id
    context = context_of(store, settings, project_id)

    run(store, context, lambda gw: generate_questions(store, gw, context, first_tag, 4))
    outcome = run(store, context, lambda gw: generate_questions(store, gw, context, second_tag, 4))

    assert outcome.missing == 0
    with store.session() as session:
        texts = list(session.scalars(select(Question.text)))
        hashes = list(session.scalars(select(Question.text_hash)))
    assert len(texts) == 8 and len(set(hashes)) == 8


@pytest.mark.parametrize("style", REASONING_STYLES)
def test_answers_store_reasoning_apart_in_every_style(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer, style: str
) -> None:
    fake_server.configure(reasoning_style=style)
    question_id = _question(store, project_id)
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: answer_question(store, gw, context, question_id))

    assert outcome.error is None and outcome.answer_id is not None
    reasoning, text = answer_for("How do sprinters train their start?")
    with store.session() as session:
        answer = session.get(Answer, outcome.answer_id)
        assert answer is not None
        assert answer.answer == text
        assert answer.reasoning == (None if style == "none" else reasoning)
        assert answer.finish_reason == "stop" and answer.output_tokens
        assert answer.model == "fake-model"


def test_a_truncated_answer_is_a_recorded_failure_not_an_answer(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    fake_server.configure(rate_truncated=1.0)
    question_id = _question(store, project_id)
    with store.session() as session:
        projects.update_project(session, projects.get_project(session, project_id), max_retries=0)
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: answer_question(store, gw, context, question_id))

    assert outcome.answer_id is None and outcome.error
    with store.session() as session:
        assert session.scalar(select(func.count(Answer.id))) == 0
        question = session.get(Question, question_id)
        assert question is not None and question.last_error

    fake_server.configure(rate_truncated=0.0)
    retried = run(store, context, lambda gw: answer_question(store, gw, context, question_id))
    assert retried.answer_id is not None
    with store.session() as session:
        question = session.get(Question, question_id)
        assert question is not None and question.last_error is None


def test_the_answer_system_prompt_and_template_shape_the_request(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    question_id = _question(store, project_id)
    with store.session() as session:
        projects.update_project(
            session,
            projects.get_project(session, project_id),
            answer_system_prompt="You are a patient coach.",
        )
    context = context_of(store, settings, project_id)

    run(store, context, lambda gw: answer_question(store, gw, context, question_id))

    messages: list[dict[str, Any]] = fake_server.stats().bodies[-1]["messages"]
    assert messages[0] == {"role": "system", "content": "You are a patient coach."}
    assert messages[1]["content"] == "How do sprinters train their start?"


def test_an_unset_model_is_refused_with_the_fix(store: Store, settings: Settings) -> None:
    with store.session() as session:
        project = projects.create_project(session, "No models")
        with pytest.raises(InvalidInputError, match="--question-model ALIAS"):
            load_context(session, project, settings, need_question_model=True)


def test_every_reply_is_logged_as_a_call_with_its_purpose(
    store: Store, settings: Settings, project_id: int, fake_server: FakeModelServer
) -> None:
    context = context_of(store, settings, project_id)
    run(store, context, lambda gw: generate_tags(store, gw, context, None, 2))
    with store.session() as session:
        purposes = list(session.scalars(select(LlmCall.purpose)))
        tag_count = session.scalar(select(func.count(Tag.id)))
    assert purposes == ["tags"] and tag_count == 2


def _question(store: Store, project_id: int) -> int:
    with store.session() as session:
        project = projects.get_project(session, project_id)
        tag = tags.add_tag_path(session, project, "Athletics > Sprinting")
        question = Question(
            project_id=project_id,
            tag_id=tag.id,
            text="How do sprinters train their start?",
            text_hash="h1",
            origin="distilled",
        )
        session.add(question)
        session.flush()
        return question.id


def test_a_chinese_project_prompts_and_distils_in_chinese(
    store: Store,
    settings: Settings,
    fake_server: FakeModelServer,
    project_factory: Callable[..., int],
) -> None:
    project_id = project_factory("体育运动", language="zh")
    context = context_of(store, settings, project_id)

    outcome = run(store, context, lambda gw: generate_tags(store, gw, context, None, 3))
    tag_id = outcome.created[0]
    asked = run(store, context, lambda gw: generate_questions(store, gw, context, tag_id, 2))

    prompts = fake_server.stats().prompts
    assert "恰好 3" in prompts[0] and "JSON array" in prompts[0]
    assert "恰好 2" in prompts[1] and "体育运动 > " in prompts[1]
    assert len(asked.created) == 2
    assert all("的" in label for label in labels_under(store, project_id, None))
