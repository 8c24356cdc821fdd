"""Importing a table of contents: level-bulk `insert_tree` against a per-node insert loop.

The baseline walks the tree and calls `add_children` once per node (a look-up and a savepoint
per tag), which is how a tree was inserted before. Both run in the same process on fresh
SQLite files, on the same generated outline, first as a fresh import and then as a re-import
where every tag already exists.

    .venv/bin/python bench/tree_import.py [--areas 20] [--subs 20] [--leaves 25]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from distillset.config import load_settings
from distillset.domain import Origin
from distillset.projects import lifecycle as projects
from distillset.store import Project, open_store
from distillset.tags import tree as tags
from distillset.tags import tree_io

Inserter = Callable[[Session, Project, Sequence[tags.TreeNode]], object]


def per_node(session: Session, project: Project, nodes: Sequence[tags.TreeNode]) -> None:
    stack: list[tuple[tags.Tag | None, tags.TreeNode]] = [(None, node) for node in nodes]
    while stack:
        parent, node = stack.pop()
        made = tags.add_children(session, project.id, parent, [node.label], Origin.IMPORTED)
        parent_id = parent.id if parent else None
        tag = made[0] if made else tags._child(session, project.id, parent_id, node.label)
        stack.extend((tag, child) for child in node.children)


def bulk(session: Session, project: Project, nodes: Sequence[tags.TreeNode]) -> None:
    tags.insert_tree(session, project, nodes)


def outline(areas: int, subs: int, leaves: int) -> str:
    lines: list[str] = []
    for a in range(areas):
        lines.append(f"# Area {a}")
        for b in range(subs):
            lines.append(f"- Subject {a}-{b}")
            lines.extend(f"  - Leaf {a}-{b}-{c}" for c in range(leaves))
    return "\n".join(lines) + "\n"


def timed(insert: Inserter, nodes: Sequence[tags.TreeNode]) -> tuple[float, float]:
    store = open_store(load_settings(home=Path(tempfile.mkdtemp(prefix="bench-tree-"))))
    with store.session() as session:
        projects.create_project(session, "Bench")
    times = []
    for _ in range(2):
        start = time.perf_counter()
        with store.session() as session:
            insert(session, projects.get_project(session, "Bench"), nodes)
        times.append(time.perf_counter() - start)
    store.close()
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=20)
    parser.add_argument("--subs", type=int, default=20)
    parser.add_argument("--leaves", type=int, default=25)
    args = parser.parse_args()
    nodes = tree_io.parse_tree(outline(args.areas, args.subs, args.leaves), "md")
    print(f"{tree_io.count_nodes(nodes)} tags")
    base_fresh, base_again = timed(per_node, nodes)
    fresh, again = timed(bulk, nodes)
    print(f"fresh import: per-node {base_fresh:.2f}s, bulk {fresh:.2f}s, x{base_fresh / fresh:.1f}")
    print(f"re-import:    per-node {base_again:.2f}s, bulk {again:.2f}s, x{base_again / again:.1f}")


if __name__ == "__main__":
    main()
