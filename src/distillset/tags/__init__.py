"""The domain tag tree: editing it, browsing it a level at a time with counts, importing and
exporting it, generating it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distillset.tags.browse import (
    CURSOR_PATTERN,
    MAX_OPEN_NODES,
    MAX_SEARCH_RESULTS,
    TREE_PAGE_SIZE,
    TagMatch,
    TagRow,
    add_subtree_counts,
    child_rows,
    expanded_row,
    next_cursor,
    open_rows,
    parse_cursor,
    revealed_rows,
    rows_by_id,
    search_tags,
    tag_row,
)
from distillset.tags.tree import (
    TreeNode,
    add_tag,
    add_tag_path,
    delete_tag,
    find_tag,
    load_tree,
    move_tag,
    rename_tag,
    subtree_counts,
    tag_in_project,
    tag_path,
)
from distillset.tags.tree_io import (
    MAX_FILE_BYTES,
    count_nodes,
    dump_tree,
    format_of,
    import_tree,
    nodes_from_data,
    parse_tree,
    read_tree_file,
)

if TYPE_CHECKING:
    from distillset.tags.generate import generate_tags

__all__ = [
    "CURSOR_PATTERN",
    "MAX_FILE_BYTES",
    "MAX_OPEN_NODES",
    "MAX_SEARCH_RESULTS",
    "TREE_PAGE_SIZE",
    "TagMatch",
    "TagRow",
    "TreeNode",
    "add_subtree_counts",
    "add_tag",
    "add_tag_path",
    "child_rows",
    "count_nodes",
    "delete_tag",
    "dump_tree",
    "expanded_row",
    "find_tag",
    "format_of",
    "generate_tags",
    "import_tree",
    "load_tree",
    "move_tag",
    "next_cursor",
    "nodes_from_data",
    "open_rows",
    "parse_cursor",
    "parse_tree",
    "read_tree_file",
    "rename_tag",
    "revealed_rows",
    "rows_by_id",
    "search_tags",
    "subtree_counts",
    "tag_in_project",
    "tag_path",
    "tag_row",
]


def __getattr__(name: str) -> Any:
    # Generating needs the gateway (an HTTP client); reading and editing the tree must not
    # load it, so that `distillset tags tree` starts fast.
    if name == "generate_tags":
        from distillset.tags.generate import generate_tags

        return generate_tags
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
