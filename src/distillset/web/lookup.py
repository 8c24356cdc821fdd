"""Finding rows named in a URL, with a 404-mapped error when they do not exist."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distillset.domain import NotFoundError
from distillset.store import Project, Question, Tag
from distillset.tags import tag_in_project


def project_by_id(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"no project with id {project_id}")
    return project


def optional_tag(session: Session, project: Project, tag_id: int | None) -> Tag | None:
    return None if tag_id is None else tag_in_project(session, project, tag_id)


def question_in_project(session: Session, project: Project, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None or question.project_id != project.id:
        raise NotFoundError(f"no question with id {question_id} in project {project.name!r}")
    return question
