"""`more_than_existing`: the target of an "N more" request, shared by the CLI and the web."""

from __future__ import annotations

import pytest

from distillset.auto.jobs import more_than_existing
from distillset.domain import InvalidInputError, Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.store import Question, Store
from distillset.tags.tree import add_tag_path


def test_more_than_existing_adds_to_what_the_tag_has(store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "Sports")
        ball = add_tag_path(session, project, "Ball games", Origin.MANUAL)
        add_tag_path(session, project, "Ball games > Football", Origin.MANUAL)
        tennis = add_tag_path(session, project, "Ball games > Tennis", Origin.MANUAL)
        add_tag_path(session, project, "Running", Origin.MANUAL)
        for text in ("What is a let?", "What is deuce?", "How long is a set?"):
            session.add(
                Question(
                    project_id=project.id, tag_id=tennis.id, text=text, text_hash=text_hash(text)
                )
            )
        session.flush()

        assert more_than_existing(session, "tags", ball.id, 5) == 7
        assert more_than_existing(session, "tags", None, 1, project_id=project.id) == 3
        assert more_than_existing(session, "tags", tennis.id, 4) == 4
        assert more_than_existing(session, "questions", tennis.id, 2) == 5
        assert more_than_existing(session, "questions", ball.id, 10) == 10


def test_more_than_existing_refuses_out_of_range(store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "Sports")
        tag = add_tag_path(session, project, "Running", Origin.MANUAL)
        for n in (0, 101, -3):
            with pytest.raises(InvalidInputError, match="between 1 and 100"):
                more_than_existing(session, "questions", tag.id, n)
        for index in range(98):
            text = f"Running question {index}?"
            session.add(
                Question(project_id=project.id, tag_id=tag.id, text=text, text_hash=text_hash(text))
            )
        session.flush()
        assert more_than_existing(session, "questions", tag.id, 2) == 100
        with pytest.raises(InvalidInputError, match="would make 101"):
            more_than_existing(session, "questions", tag.id, 3)
