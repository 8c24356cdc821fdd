"""`Project`'s tag tree methods: read, edit by hand, import and export.

Tags are named by their path, written ``"A > B > C"`` (the topic itself may be left out),
as on the command line; the core finds the tag's id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from distillset import resolve, tags
from distillset.api._common import ProjectBase
from distillset.domain import InvalidInputError, Origin
from distillset.store import Tag

TreeSource = str | Path | list[Any] | dict[str, Any]


def _shown(session: Session, tag: Tag) -> dict[str, Any]:
    """A changed tag as the commands report it: its id and full path."""
    return {"id": tag.id, "path": str(tags.tag_path(session, tag))}


class TreeMethods(ProjectBase):
    def tree(self) -> list[dict[str, Any]]:
        """The tag tree: nested ``{"id", "label", "questions", "children"}`` dicts."""
        with self._session() as (session, project):
            return [node.as_dict() for node in tags.load_tree(session, project.id)]

    def add_tag(self, path: str) -> dict[str, Any]:
        """Add a tag by hand (missing ancestors are created too); returns its id and path."""
        with self._session() as (session, project):
            return _shown(session, tags.add_tag_path(session, project, path, Origin.MANUAL))

    def rename_tag(self, path: str, to: str) -> dict[str, Any]:
        """Give a tag a new label; its questions and subtree stay attached."""
        with self._session() as (session, project):
            tag = tags.rename_tag(session, resolve.tag_at(session, project, path), to)
            return _shown(session, tag)

    def move_tag(self, path: str, under: str | None) -> dict[str, Any]:
        """Move a tag with its subtree below another tag (None, '' or the topic: the top)."""
        with self._session() as (session, project):
            tag = resolve.tag_at(session, project, path)
            tags.move_tag(session, tag, resolve.parent_at(session, project, under))
            return _shown(session, tag)

    def delete_tag(self, path: str) -> dict[str, int]:
        """Delete a tag with its subtree, their questions and answers (no question asked);
        returns how many ``tags``, ``questions`` and ``answers`` went."""
        with self._session() as (session, project):
            counts = tags.delete_tag(session, resolve.tag_at(session, project, path))
        return {"tags": counts.tags, "questions": counts.questions, "answers": counts.answers}

    def import_tree(
        self, source: TreeSource, *, under: str | None = None, format: str | None = None
    ) -> dict[str, int]:
        """Import a tree, checked whole first; tags already present are merged.

        ``source`` is a file (.json, .yaml/.yml or .md; ``format`` overrides the suffix) or
        the data itself: nested ``{"label": ..., "children": [...]}`` dicts, nested mappings
        or lists, as in a JSON file. Returns how many tags were ``read`` and ``created``.
        """
        if isinstance(source, str | Path):
            nodes = tags.read_tree_file(Path(source), format)
        else:
            nodes = tags.nodes_from_data(source)
            if not nodes:
                raise InvalidInputError("the tree holds no tags")
        with self._session() as (session, project):
            created = tags.import_tree(
                session, project, nodes, resolve.parent_at(session, project, under)
            )
        return {"read": tags.count_nodes(nodes), "created": created}

    def export_tree(self, format: str = "json") -> str:
        """The tree as JSON, YAML or a Markdown outline (``format`` json, yaml or md), text
        that `import_tree` (or `distillset tags import`) reads back to the same tree."""
        with self._session() as (session, project):
            return tags.dump_tree(project.topic, tags.load_tree(session, project.id), format)
