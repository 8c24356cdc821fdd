"""Tag paths come from one place, in one query however deep the tree (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from distillset.projects import lifecycle as projects
from distillset.store import Store, Tag, TagPaths
from distillset.tags import tree as tags

DEEP = "Sport > Ball games > Football > Tactics > Pressing"


@contextmanager
def _counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _tree(store: Store) -> dict[str, int]:
    with store.session() as session:
        project = projects.create_project(session, "P")
        made = {
            path: tags.add_tag_path(session, project, path).id
            for path in (DEEP, "Sport > Ball games > Tennis", "Running")
        }
        projects.create_project(session, "Other")
        return made


def test_a_page_reads_its_deep_paths_in_one_query(database: str, store: Store) -> None:
    made = _tree(store)
    with store.session() as session:
        paths = TagPaths(session)
        with _counted(store.engine) as statements:
            paths.load([*made.values(), None])
            shown = {path: paths.path(tag_id) for path, tag_id in made.items()}
        assert shown == {path: path for path in made}
        assert len(statements) == 1  # not one per tree level
        assert paths.path(None) == "" and paths.path(10_000) == ""


def test_a_tag_path_reads_its_ancestors_once(database: str, store: Store) -> None:
    made = _tree(store)
    with store.session() as session:
        deep = session.get_one(Tag, made[DEEP])
        session.expunge_all()  # nothing cached: each ancestor would be a query of its own
        with _counted(store.engine) as statements:
            path = tags.tag_path(session, deep)
        assert str(path) == DEEP
        assert len(statements) == 1


def test_a_renamed_tag_shows_its_new_path_below_it(database: str, store: Store) -> None:
    made = _tree(store)
    with store.session() as session:
        project = projects.get_project(session, "P")
        tags.rename_tag(session, tags.find_tag(session, project, "Sport > Ball games"), "Balls")
        session.flush()
        assert TagPaths(session).path(made[DEEP]) == "Sport > Balls > Football > Tactics > Pressing"
    with store.session() as session:
        whole = TagPaths(session, projects.get_project(session, "P").id)
        assert whole.path(made["Running"]) == "Running"
