"""Names and ``A > B`` paths a user types, turned into the ids the core takes.

The core is called by id, never by label (DESIGN.md): only the interfaces that take names
from a person — the CLI and the Python facade — resolve them, here. The web has ids in its
URLs and calls the core with them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError, Origin
from distillset.projects.lifecycle import get_project
from distillset.store import Project, Tag
from distillset.tags.tree import add_tag_path, find_parent, find_tag

if TYPE_CHECKING:
    from distillset.review import RecordFilter

__all__ = [
    "parent_at",
    "parent_id",
    "project_id",
    "project_named",
    "record_filter",
    "tag_at",
    "tag_at_or_added",
    "tag_id",
]


def project_named(session: Session, name: str) -> Project:
    """The project of this name (NotFoundError when there is none)."""
    return get_project(session, name)


def project_id(session: Session, name: str) -> int:
    return project_named(session, name).id


def _project(session: Session, project: Project | int) -> Project:
    return project if isinstance(project, Project) else get_project(session, project)


def tag_at(session: Session, project: Project | int, path: str) -> Tag:
    """The tag at ``A > B`` in the project (the topic may lead the path)."""
    return find_tag(session, _project(session, project), path)


def tag_at_or_added(session: Session, project: Project | int, path: str) -> Tag:
    """The tag at ``A > B``, added (with any missing ancestors) when there is none, as
    `tags add` adds it."""
    owner = _project(session, project)
    try:
        return find_tag(session, owner, path)
    except NotFoundError:
        return add_tag_path(session, owner, path, Origin.MANUAL)


def tag_id(session: Session, project: Project | int, path: str | None) -> int | None:
    """The id of the tag at the path, or None for no path (the whole project). A path given
    empty is refused, never read as "no path": what a run pays for, what a filter deletes,
    never widens to the whole project because a path came blank."""
    return None if path is None else tag_at(session, project, path).id


def record_filter(
    session: Session, project: Project | int, conditions: Mapping[str, Any]
) -> RecordFilter:
    """A record filter from conditions by name, as the Python API's keywords give them:
    ``tag`` (an `A > B` path) or ``tag_id`` for a subtree, and RecordFilter's other
    conditions (None means any)."""
    # Imported on use: the review package loads the gateway (for its judge), and commands
    # that only resolve a path (`tags tree`) start without it (test_cli_startup.py).
    from distillset.review import RecordFilter

    values = {name: value for name, value in conditions.items() if value is not None}
    path = values.pop("tag", None)
    if path is not None:
        if "tag_id" in values:
            raise InvalidInputError("give tag (a path) or tag_id, not both")
        values["tag_id"] = tag_id(session, project, path)
    return RecordFilter.from_dict(values)


def parent_at(session: Session, project: Project | int, path: str | None) -> Tag | None:
    """The parent tag at the path, or None for the topic (no path, an empty one, or the
    topic alone)."""
    return find_parent(session, _project(session, project), path)


def parent_id(session: Session, project: Project | int, path: str | None) -> int | None:
    parent = parent_at(session, project, path)
    return parent.id if parent is not None else None
