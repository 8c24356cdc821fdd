"""Queries several packages share; tag paths are built here and nowhere else.

A tag stores only its own label and its parent's id. Its path, the labels from the top
level down, comes from one recursive query over its ancestors (however deep the tree),
or, for a whole-project export, from one read of the project's tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased

from distillset.domain import PATH_SEPARATOR
from distillset.store.models import Tag

# Bounded IN lists, fine for any database.
_IDS_PER_QUERY = 1_000


def _with_ancestors() -> Select[Any]:
    """The tags listed in ``ids`` and all their ancestors, each once: (id, parent id, label)."""
    ancestors = (
        select(Tag.id, Tag.parent_id, Tag.label)
        .where(Tag.id.in_(bindparam("ids", expanding=True)))
        .cte("ancestors", recursive=True)
    )
    parent = aliased(Tag)
    ancestors = ancestors.union(
        select(parent.id, parent.parent_id, parent.label).join(
            ancestors, parent.id == ancestors.c.parent_id
        )
    )
    return select(ancestors.c.id, ancestors.c.parent_id, ancestors.c.label)


# Built once: building it (an alias, a CTE) costs more than running it.
_WITH_ANCESTORS = _with_ancestors()


class TagPaths:
    """Tag id -> path, each path built once from rows read once.

    ``TagPaths(session)`` reads the tags it is asked about (and their ancestors) on demand,
    in one query per ``load``: right for a page of 50 rows in a 100,000-tag tree. With a
    ``project_id`` it reads every tag of the project up front: right for an export.
    """

    def __init__(self, session: Session, project_id: int | None = None) -> None:
        self._session = session
        self._parents: dict[int, tuple[int | None, str]] = {}
        self._texts: dict[int, str] = {}
        if project_id is not None:
            rows = session.execute(
                select(Tag.id, Tag.parent_id, Tag.label).where(Tag.project_id == project_id)
            )
            self._parents = {tag_id: (parent_id, label) for tag_id, parent_id, label in rows}

    def load(self, tag_ids: Iterable[int | None]) -> None:
        """Read the paths of these tags now, the ones not known yet, in one query."""
        wanted = sorted({t for t in tag_ids if t is not None and t not in self._parents})
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            rows = self._session.execute(_WITH_ANCESTORS, {"ids": chunk})
            for tag_id, parent_id, label in rows:
                self._parents[tag_id] = (parent_id, label)

    def labels(self, tag_id: int) -> tuple[str, ...]:
        """The labels from the top level down; empty for a tag that does not exist."""
        if tag_id not in self._parents:
            self.load([tag_id])
        labels: list[str] = []
        current: int | None = tag_id
        while current is not None and current in self._parents:
            current, label = self._parents[current]
            labels.append(label)
        return tuple(reversed(labels))

    def path(self, tag_id: int | None) -> str:
        """The path as text, `A > B > C`; "" for no tag."""
        if tag_id is None:
            return ""
        text = self._texts.get(tag_id)
        if text is None:
            text = self._texts[tag_id] = PATH_SEPARATOR.join(self.labels(tag_id))
        return text
