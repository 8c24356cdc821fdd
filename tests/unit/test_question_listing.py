"""The one question listing (dataset.list_questions), by project and tag ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from distillset.projects import lifecycle as projects
from distillset.questions.listing import list_questions, question_row
from distillset.store import Answer, Project, Question, Store
from distillset.tags.tree import add_tag_path


def _question(session: Session, project: Project, tag_id: int, text: str) -> Question:
    question = Question(
        project_id=project.id, tag_id=tag_id, text=text, text_hash=text, origin="manual"
    )
    session.add(question)
    session.flush()
    return question


def _seed(session: Session) -> tuple[Project, dict[str, int]]:
    project = projects.create_project(session, "Sports")
    tags = {
        path: add_tag_path(session, project, path).id
        for path in ("Running", "Running > Sprint", "Swimming")
    }
    _question(session, project, tags["Running"], "How to start running?")
    sprint = _question(session, project, tags["Running > Sprint"], "How fast is a sprint?")
    _question(session, project, tags["Swimming"], "How to breathe while swimming?")
    session.add(Answer(question_id=sprint.id, project_id=project.id, variant=0, answer="Fast."))
    other = projects.create_project(session, "Cooking")
    _question(session, other, add_tag_path(session, other, "Bread").id, "Why knead?")
    session.flush()
    return project, tags


def test_tag_subtree_answered_and_paging_filters(database: str, store: Store) -> None:
    with store.session() as session:
        project, tags = _seed(session)
        running = tags["Running"]

        def texts(**filters: Any) -> list[str]:
            return [row.text for row in list_questions(session, project.id, **filters)]

        assert len(texts(limit=None)) == 3  # another project's question is not listed
        assert texts(tag_id=running) == ["How to start running?"]
        assert texts(tag_id=running, subtree=True) == [
            "How to start running?",
            "How fast is a sprint?",
        ]
        assert texts(answered=True) == ["How fast is a sprint?"]
        assert texts(answered=False, search="swimming") == ["How to breathe while swimming?"]
        first, *rest = list_questions(session, project.id, limit=None)
        assert [row.id for row in list_questions(session, project.id, after=first.id)] == [
            row.id for row in rest
        ]
        assert len(list_questions(session, project.id, limit=1)) == 1


def test_rows_carry_their_answer_and_tag_path_on_request(database: str, store: Store) -> None:
    with store.session() as session:
        project, tags = _seed(session)
        rows = list_questions(session, project.id, with_answers=True, with_paths=True)
        assert [row.tag_path for row in rows] == ["Running", "Running > Sprint", "Swimming"]
        sprint = rows[1]
        assert sprint.answered and sprint.answer is not None
        assert sprint.answer.answer == "Fast."
        assert rows[0].answer is None and not rows[0].answered
        assert list_questions(session, project.id)[0].tag_path is None
        assert (
            question_row(session, project.id, sprint.id)
            == list_questions(session, project.id, after=sprint.id - 1, limit=1, with_answers=True)[
                0
            ]
        )
        other_question = session.query(Question).filter_by(text="Why knead?").one()
        assert question_row(session, project.id, other_question.id) is None
