"""Request-scoped dependencies (a database session, the settings, the task runner), and the
rows a URL names, found or a 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import NotFoundError
from distillset.store import Project, Question, Store, Tag
from distillset.tags import tag_in_project
from distillset.web.runner import TaskRunner


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_runner(request: Request) -> TaskRunner:
    runner: TaskRunner = request.app.state.runner
    return runner


def get_session(request: Request) -> Iterator[Session]:
    """Commits before the response is sent, so a client's next request sees the change."""
    with get_store(request).session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]
AppStore = Annotated[Store, Depends(get_store)]
Runner = Annotated[TaskRunner, Depends(get_runner)]


# Rows named in a URL, with a 404-mapped error when they do not exist (tag_in_project, from
# the tags package, is the same for tags).
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
