"""The Python facade: the same operations as the CLI, usable from a script or a notebook."""

from __future__ import annotations

import asyncio

import pytest

from distillset import NotFoundError, Project
from distillset.config import Settings
from distillset.services import endpoints
from distillset.store import Store
from distillset.testing import FakeModelServer


@pytest.fixture
def project(settings: Settings, store: Store, fake_server: FakeModelServer) -> Project:
    with store.session() as session:
        endpoints.add_endpoint(session, "fake", model="fake-model", base_url=fake_server.url)
    created = Project.create("Physical Education and Sports", settings=settings)
    created.use_models(question="fake")
    return created


def test_plan_auto_and_read_back(project: Project) -> None:
    plan = project.plan(levels=1, tags=2, questions=2)
    assert (plan.tags, plan.questions, plan.answers) == (2, 4, 4)

    summary = project.auto(levels=1, tags=2, questions=2)

    assert summary["status"] == "succeeded"
    assert [node["label"] for node in project.tree()] == [
        "Fundamentals of Physical Education and Sports",
        "History and Evolution of Physical Education and Sports",
    ]
    assert len(project.questions()) == 4 and all(q["answered"] for q in project.questions())
    assert project.info()["answers"] == 4
    assert [task["kind"] for task in project.tasks()] == ["auto_distill"]
    project.close()


def test_step_methods_and_a_running_event_loop(project: Project) -> None:
    project.generate_tags(1)
    tag = project.tree()[0]["label"]
    project.generate_questions(tag, 2)

    async def from_a_notebook_cell() -> dict[str, object]:
        # The blocking form works inside a running loop too (as in Jupyter).
        return project.generate_answers(tag=tag)

    summary = asyncio.run(from_a_notebook_cell())
    assert summary["counters"]["answers"] == {"planned": 2, "done": 2, "failed": 0}  # type: ignore[index]
    project.close()


def test_opening_an_unknown_project_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no project named 'Nope'"):
        Project("Nope", settings=settings)
