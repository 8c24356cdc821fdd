"""The domain tag tree: editing it, importing and exporting it, generating it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    "MAX_FILE_BYTES",
    "TreeNode",
    "add_tag",
    "add_tag_path",
    "count_nodes",
    "delete_tag",
    "dump_tree",
    "find_tag",
    "format_of",
    "generate_tags",
    "import_tree",
    "load_tree",
    "move_tag",
    "nodes_from_data",
    "parse_tree",
    "read_tree_file",
    "rename_tag",
    "subtree_counts",
    "tag_in_project",
    "tag_path",
]


def __getattr__(name: str) -> Any:
    # Generating needs the gateway (an HTTP client); reading and editing the tree must not
    # load it, so that `distillset tags tree` starts fast.
    if name == "generate_tags":
        from distillset.tags.generate import generate_tags

        return generate_tags
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
