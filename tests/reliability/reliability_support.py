"""Helpers of the reliability tests: a project wired to the fake model, runs, tree checks.

Imported by the test modules as `reliability_support` (this folder is on sys.path).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from alembic import command
from sqlalchemy import func, select, text

import helpers
from distillset import resolve
from distillset.auto import jobs
from distillset.config import Settings
from distillset.domain import normalize_text
from distillset.kinds import run_task
from distillset.projects import lifecycle as projects
from distillset.store import Answer, LlmCall, Question, Store, Tag
from distillset.store.db import alembic_config, make_engine

NAME = "Reliability topic"


def make_project(store: Store, base_url: str, **settings: Any) -> str:
    """helpers.make_project named NAME, the project every reliability helper works on."""
    helpers.make_project(store, base_url, NAME, **settings)
    return NAME


def set_project(store: Store, **settings: Any) -> None:
    """Write limits straight to the row: tests use timeouts below the 1 s users may set."""
    with store.session() as session:
        row = projects.get_project(session, NAME)
        for key, value in settings.items():
            setattr(row, key, value)


def run_auto(store: Store, settings: Settings, **params: Any) -> dict[str, Any]:
    with store.session() as session:
        job = jobs.create_auto_job(session, settings, resolve.project_id(session, NAME), **params)
    return asyncio.run(run_task(store, settings, job.task_id))


@dataclass
class Tree:
    tags: int
    questions: int
    answers: int
    duplicates: int
    twice_paid: int


def tree_of(store: Store) -> Tree:
    """Counts, duplicates (normalised: per parent, per project, per question), twice-paid keys."""
    with store.session() as session:
        tags = session.execute(select(Tag.parent_id, Tag.label)).all()
        questions = list(session.scalars(select(Question.text)))
        answered = Counter(session.scalars(select(Answer.question_id)))
        twice_paid = session.scalar(
            select(func.count()).select_from(
                select(LlmCall.request_key)
                .where(LlmCall.status == "ok")
                .group_by(LlmCall.request_key)
                .having(func.count() > 1)
                .subquery()
            )
        )
    per_parent = Counter((parent, normalize_text(label)) for parent, label in tags)
    per_project = Counter(normalize_text(text) for text in questions)
    duplicates = sum(n - 1 for n in per_parent.values() if n > 1)
    duplicates += sum(n - 1 for n in per_project.values() if n > 1)
    duplicates += sum(n - 1 for n in answered.values() if n > 1)
    return Tree(len(tags), len(questions), len(answered), duplicates, int(twice_paid or 0))


def store_at_revision(settings: Settings, revision: str, statements: list[str]) -> None:
    """A database migrated up to ``revision`` only, holding the rows ``statements`` insert
    (as an older distillset left it); the next open migrates it the rest of the way."""
    engine = make_engine(settings.resolved_database_url)
    command.upgrade(alembic_config(engine), revision)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()
