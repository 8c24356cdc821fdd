"""Request-scoped dependencies: a database session, the settings, the task runner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.store import Store
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
