"""A savepoint belongs to the transaction around it: rolling that back undoes what the
savepoint wrote, on SQLite (where pysqlite opens no transaction before a SAVEPOINT) and on
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from distillset.projects import lifecycle as projects
from distillset.store import Project, Store, Tag
from distillset.tags import tree as tags


class _Abandon(Exception):
    """Raised to roll back the session around it."""


def _tag_count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Tag)) or 0


def test_add_children_as_first_write_rolls_back(database: str, store: Store) -> None:
    with store.session() as session:
        project_id = projects.create_project(session, "P").id
    with pytest.raises(_Abandon), store.session() as session:
        # The session's first write is add_children's savepoint.
        created = tags.add_children(session, project_id, None, ["A", "B"])
        assert [tag.label for tag in created] == ["A", "B"]
        raise _Abandon
    assert _tag_count(store) == 0


def test_savepoint_after_a_read_rolls_back_with_later_writes(database: str, store: Store) -> None:
    with store.session() as session:
        project_id = projects.create_project(session, "P").id
    with pytest.raises(_Abandon), store.session() as session:
        project = session.get_one(Project, project_id)
        top = tags.add_children(session, project.id, None, ["A"])[0]
        tags.add_tag_path(session, project, "A > B")
        assert top.id is not None
        raise _Abandon
    assert _tag_count(store) == 0


def test_savepoint_commits_with_its_transaction(database: str, store: Store) -> None:
    with store.session() as session:
        project_id = projects.create_project(session, "P").id
    with store.session() as session:
        tags.add_children(session, project_id, None, ["A"])
    with store.session() as session:
        # Savepoints released in a transaction that commits: their tags stay.
        assert tags.add_children(session, project_id, None, ["a", "C"])[0].label == "C"
    assert _tag_count(store) == 2
