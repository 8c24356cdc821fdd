"""The core takes ids (DESIGN.md: by id, never by label): a job names its project and tags
by id, a tag of another project is refused, and the names and `A > B` paths a person types
resolve in one place (services.resolve) for the CLI and the Python facade."""

from __future__ import annotations

import pytest

from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings
from distillset.domain import NotFoundError
from distillset.projects import endpoints
from distillset.projects import lifecycle as projects
from distillset.store import Store, Tag
from distillset.tags import tree as tags
from distillset.tags import tree_io

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def ids(store: Store) -> dict[str, int]:
    """Two projects with a tag of the same label each, and the ids of both."""
    with store.session() as session:
        endpoints.add_endpoint(session, "fake", model="fake-model", base_url="http://127.0.0.1:9")
        made = {}
        for name in ("Sports", "Music"):
            project = projects.create_project(session, name)
            projects.update_project(session, project, question_model="fake", answer_model="fake")
            made[name] = project.id
            made[f"{name} tag"] = tags.add_tag_path(session, project, "Ball games > Rules").id
    return made


def test_jobs_take_the_ids_of_the_project_and_its_tags(
    store: Store, settings: Settings, ids: dict[str, int]
) -> None:
    with store.session() as session:
        job = jobs.create_questions_job(
            session, settings, ids["Sports"], tag_id=ids["Sports tag"], count=2
        )
        assert (job.project, job.project_id, job.plan.questions) == ("Sports", ids["Sports"], 2)
        plan = jobs.preview_auto_job(session, settings, ids["Music"], levels=1, tags=2)
        # Music's own tree counts: its "Ball games" is one of the two top-level tags.
        assert (plan.tags, plan.leaves) == (1, 2)


def test_a_tag_of_another_project_is_refused_by_id(
    store: Store, settings: Settings, ids: dict[str, int]
) -> None:
    foreign = ids["Music tag"]
    refused = f"no tag with id {foreign} in project 'Sports'"
    with store.session() as session:
        with pytest.raises(NotFoundError, match=refused):
            jobs.create_questions_job(session, settings, ids["Sports"], tag_id=foreign, count=2)
        with pytest.raises(NotFoundError, match=refused):
            jobs.create_tags_job(session, settings, ids["Sports"], parent_id=foreign, count=2)
        with pytest.raises(NotFoundError, match=refused):
            jobs.create_answers_job(session, settings, ids["Sports"], tag_id=foreign)
        with pytest.raises(NotFoundError, match=refused):
            jobs.list_questions(session, ids["Sports"], tag_id=foreign)
        with pytest.raises(NotFoundError, match="no project with id 999"):
            jobs.preview_auto_job(session, settings, 999)


def test_names_and_paths_resolve_in_one_place(store: Store, ids: dict[str, int]) -> None:
    with store.session() as session:
        assert resolve.project_id(session, "Music") == ids["Music"]
        assert resolve.tag_id(session, ids["Music"], "Ball games > Rules") == ids["Music tag"]
        # The topic may lead a path; the topic alone (or nothing) is no parent tag.
        assert (
            resolve.tag_id(session, ids["Music"], "Music > Ball games > Rules")
            == (ids["Music tag"])
        )
        assert resolve.parent_id(session, ids["Music"], "Music") is None
        assert resolve.tag_id(session, ids["Music"], None) is None
        with pytest.raises(NotFoundError, match="no tag 'Ball games > Goals' in project 'Music'"):
            resolve.tag_at(session, ids["Music"], "Ball games > Goals")


def test_a_tree_imports_below_a_tag_row(store: Store, ids: dict[str, int]) -> None:
    with store.session() as session:
        project = projects.get_project(session, ids["Sports"])
        parent = session.get_one(Tag, ids["Sports tag"])
        nodes = tree_io.parse_tree("- Offside\n- Fouls\n", "md")
        assert tree_io.import_tree(session, project, nodes, parent) == 2
        labels = [tag.label for tag in tags.children(session, project.id, parent.id)]
    assert labels == ["Offside", "Fouls"]
