"""A model that repeats the tag's own path back: such items are refused like duplicates and
the top-up asks for the rest (issue 11, item 18). Real HTTP to the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import select

from distillset.config import Settings
from distillset.domain import PATH_SEPARATOR
from distillset.generation.context import load_context
from distillset.llm import open_gateway
from distillset.projects import lifecycle as projects
from distillset.questions.generate import generate_questions
from distillset.store import Question, Store
from distillset.tags import tree as tags
from distillset.tags.generate import generate_tags
from distillset.testing import FakeModelServer, fake_content

TOPIC = "Physical Education and Sports"
T = TypeVar("T")


@pytest.fixture
def project_id(project_factory: Callable[..., int]) -> int:
    return project_factory(TOPIC)


def run(store: Store, settings: Settings, project_id: int, step: Callable[..., Awaitable[T]]) -> T:
    with store.session() as session:
        context = load_context(session, projects.get_project(session, project_id), settings)

    async def main() -> T:
        async with open_gateway(store, context.limits, project_id=project_id) as gateway:
            return await step(store, gateway, context)

    return asyncio.run(main())


def labels_under(store: Store, project_id: int, parent_id: int | None) -> list[str]:
    with store.session() as session:
        return [tag.label for tag in tags.children(session, project_id, parent_id)]


@pytest.fixture
def echoing_model(monkeypatch: pytest.MonkeyPatch, fake_server: FakeModelServer) -> None:
    """Every list reply starts with the leaf label, the topic and the whole path."""
    original = fake_content.list_items

    def echoing(text: str, count: int | None = None) -> list[str]:
        path = fake_content.tag_path(text)
        echoes = [path[-1], path[0], PATH_SEPARATOR.join(path), PATH_SEPARATOR.join(path[1:])]
        return [*dict.fromkeys(echo for echo in echoes if echo), *original(text, count)]

    monkeypatch.setattr(fake_content, "list_items", echoing)


def test_a_sub_tag_equal_to_its_parent_or_the_topic_is_refused(
    store: Store,
    settings: Settings,
    project_id: int,
    fake_server: FakeModelServer,
    echoing_model: None,
) -> None:
    with store.session() as session:
        parent_id = tags.add_tag_path(
            session, projects.get_project(session, project_id), "Ball Games"
        ).id
    top = run(store, settings, project_id, lambda *a: generate_tags(*a, None, 3))
    children = run(store, settings, project_id, lambda *a: generate_tags(*a, parent_id, 3))

    assert len(top.created) == 2 and top.missing == 0  # Ball Games + 2 new make 3
    assert TOPIC.casefold() not in {
        label.casefold() for label in labels_under(store, project_id, None)
    }
    below = labels_under(store, project_id, parent_id)
    assert len(children.created) == 3 and children.missing == 0 and len(below) == 3
    assert not {label.casefold() for label in below} & {"ball games", TOPIC.casefold()}


def test_a_question_equal_to_its_tag_path_or_label_is_refused(
    store: Store,
    settings: Settings,
    project_id: int,
    fake_server: FakeModelServer,
    echoing_model: None,
) -> None:
    with store.session() as session:
        tag_id = tags.add_tag_path(
            session, projects.get_project(session, project_id), "Ball Games > Football"
        ).id
    outcome = run(store, settings, project_id, lambda *a: generate_questions(*a, tag_id, 4))

    with store.session() as session:
        texts = list(session.scalars(select(Question.text).where(Question.tag_id == tag_id)))
    assert len(outcome.created) == 4 and outcome.missing == 0 and len(texts) == 4
    echoes = {
        "football",
        "ball games",
        TOPIC.casefold(),
        f"{TOPIC} > Ball Games > Football".casefold(),
    }
    assert not {text.casefold().rstrip("?") for text in texts} & echoes
