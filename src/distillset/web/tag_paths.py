"""Tag paths for one page of rows, read on demand.

The dataset package's TagPaths reads every tag of the project up front, right for an export;
a page of 50 rows in a 100,000-tag tree only needs the ancestors of its own tags.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.dataset.records import TagPaths
from distillset.domain import PATH_SEPARATOR
from distillset.store import Tag


class PagePaths(TagPaths):
    def __init__(self, session: Session) -> None:  # noqa: D107 - no full read, unlike the base
        self._session = session
        self._parents: dict[int, tuple[int | None, str]] = {}
        self._paths: dict[int, str] = {}

    def load(self, tag_ids: Iterable[int | None]) -> None:
        """Read the tags and their ancestors, one query per tree level."""
        wanted = {tag_id for tag_id in tag_ids if tag_id is not None} - set(self._parents)
        while wanted:
            rows = self._session.execute(
                select(Tag.id, Tag.parent_id, Tag.label).where(Tag.id.in_(wanted))
            ).all()
            wanted = set()
            for tag_id, parent_id, label in rows:
                self._parents[tag_id] = (parent_id, label)
                if parent_id is not None and parent_id not in self._parents:
                    wanted.add(parent_id)

    def path(self, tag_id: int | None) -> str:
        if tag_id is None:
            return ""
        if tag_id not in self._parents:
            self.load([tag_id])
        cached = self._paths.get(tag_id)
        if cached is None:
            labels: list[str] = []
            current: int | None = tag_id
            while current is not None and current in self._parents:
                current, label = self._parents[current]
                labels.append(label)
            cached = self._paths[tag_id] = PATH_SEPARATOR.join(reversed(labels))
        return cached
