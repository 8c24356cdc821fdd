"""Tag trees as files: read JSON / YAML / Markdown outlines, write them back.

A file is validated completely (size, shape, labels, depth, node count) before anything is
written, and the import itself runs in the caller's single transaction, so a bad file leaves
the project untouched. Walks are iterative: a hostile 10,000-level file cannot blow the stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, Origin, normalize_text
from distillset.store.models import Project, Tag
from distillset.tags.tree import (
    MAX_TAG_DEPTH,
    TreeNode,
    checked_label,
    children,
    insert_tree,
)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NODES = 200_000
FORMATS = ("json", "yaml", "md")
_SUFFIXES = {
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".md": "md",
    ".markdown": "md",
    ".txt": "md",
}
_LABEL_KEYS = ("label", "name", "title")
# Keys a node object may carry besides its label (ids and counts come from `tags tree --json`).
_NODE_KEYS = {*_LABEL_KEYS, "children", "id", "questions"}


def format_of(path: Path, given: str | None = None) -> str:
    name = (given or _SUFFIXES.get(path.suffix.lower(), "")).lower()
    name = {"yml": "yaml", "markdown": "md"}.get(name, name)
    if name not in FORMATS:
        raise InvalidInputError(
            f"cannot tell the format of {path.name!r}: use a .json, .yaml or .md file "
            "or give --format json|yaml|md"
        )
    return name


def read_tree_file(path: Path, file_format: str | None = None) -> list[TreeNode]:
    """Read and fully validate an outline file."""
    chosen = format_of(path, file_format)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInputError(
                f"{path} is too large ({size / 1e6:.1f} MB > {MAX_FILE_BYTES / 1e6:.0f} MB)"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    try:
        return parse_tree(text, chosen)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path.name}: {exc}") from exc


def parse_tree(text: str, file_format: str) -> list[TreeNode]:
    if file_format == "md":
        _topic, nodes = parse_markdown_document(text)
    else:
        nodes = nodes_from_data(_load_data(text, file_format))
    if not nodes:
        raise InvalidInputError("the file holds no tags")
    return nodes


def _load_data(text: str, file_format: str) -> Any:
    try:
        if file_format == "json":
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except RecursionError as exc:
        raise InvalidInputError(f"the {file_format.upper()} is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InvalidInputError(f"invalid YAML{line}: {problem}") from exc


def _scalar_label(value: Any, where: str, *, section_numbered: bool = False) -> str:
    """A label read from a file. A bare leading number is numbering only in a line where it
    orders the outline (``section_numbered``: `1 Basics` in a table of contents); a JSON,
    YAML or bullet label is read whole, so `10 Tips for sprinting` exports and imports back
    as it is. Dotted and parenthesised numbering (`1.2`, `1.`, `(3)`) is dropped anywhere."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInputError(f"{where}: a label must be text, got {type(value).__name__}")
    try:
        return checked_label(str(value), keep_bare_number=not section_numbered)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from exc


def _is_node(value: dict[Any, Any]) -> bool:
    """`{"label": "A", "children": [...]}`, not a mapping that has a tag called "name"."""
    labels = [key for key in _LABEL_KEYS if key in value]
    return (
        len(labels) == 1
        and set(value) <= _NODE_KEYS
        and isinstance(value[labels[0]], str | int | float)
    )


def _entries(value: Any, where: str) -> Iterator[tuple[Any, Any]]:
    """(label, children) pairs of one level, whatever shape the level is written in."""
    if value is None:
        return
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        yield value, None
    elif isinstance(value, dict):
        if _is_node(value):
            label_key = next(key for key in _LABEL_KEYS if key in value)
            yield value[label_key], value.get("children")
        else:
            yield from value.items()
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                raise InvalidInputError(f"{where}: a list directly inside a list has no label")
            yield from _entries(item, where)
    else:
        raise InvalidInputError(f"{where}: a label must be text, got {type(value).__name__}")


def nodes_from_data(data: Any) -> list[TreeNode]:
    """Nested `{label, children}` objects, nested mappings, lists of either, or a mix."""
    if isinstance(data, dict) and "children" in data and set(data) <= {"topic", "children"}:
        data = data["children"]  # the document written by `tags export`
    roots: list[TreeNode] = []
    total = 0
    stack: list[tuple[Any, list[TreeNode], int, str]] = [(data, roots, 1, "top level")]
    while stack:
        value, siblings, depth, where = stack.pop()
        for raw_label, kids in _entries(value, where):
            label = _scalar_label(raw_label, where)
            if depth > MAX_TAG_DEPTH:
                raise InvalidInputError(f"{where}: the tree is deeper than {MAX_TAG_DEPTH} levels")
            total += 1
            if total > MAX_NODES:
                raise InvalidInputError(f"more than {MAX_NODES:,} tags in one file")
            node = TreeNode(label)
            siblings.append(node)
            if kids is not None:
                inner = label if depth == 1 else f"{where} > {label}"
                stack.append((kids, node.children, depth + 1, inner))
    return roots


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?:\[[ xX]\]\s+)?(.*)$")
_PLAIN = re.compile(r"^(\s*)(\S.*)$")
_RULE = re.compile(r"^\s*([-=*_])(\s*\1){2,}\s*$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


# `1`, `1.2`, `2.` and `3)`: ordered-list items count as first-level section numbers, so
# `2. Methods` followed by `2.1 Sampling` nests the way a table of contents means it.
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)[.)]?\s")
# Bullets rank below any section number at the same indentation: `- x` under `1.2 Topic`
# belongs to it, and the next numbered line closes the list.
_BULLET_RANK = 99


def _line_key(line: str) -> tuple[tuple[int, int, int], str]:
    """Where a line sits: headings by level, then lines by indentation, then a plain line
    by its section number (`1.2 Rules` is below `1 Basics` in an unindented table of
    contents); the parent is the nearest line above with a smaller key."""
    heading = _HEADING.match(line)
    if heading:
        return (0, len(heading.group(1)), 0), heading.group(2)
    bullet = _BULLET.match(line)
    if bullet:
        return (1, len(bullet.group(1)), _BULLET_RANK), bullet.group(2)
    plain = _PLAIN.match(line)
    assert plain is not None  # blank lines are skipped before
    section = _SECTION_NUMBER.match(plain.group(2))
    rank = section.group(1).count(".") + 1 if section else 1
    return (1, len(plain.group(1)), rank), plain.group(2)


def parse_markdown(text: str) -> list[TreeNode]:
    """Headings (`#`, `##`...), nested bullets, indented or numbered lines, in any mix."""
    roots, _title = _parse_outline(text, MAX_TAG_DEPTH)
    return roots


def parse_markdown_document(text: str) -> tuple[str | None, list[TreeNode]]:
    """(topic, tags) of a Markdown file: a single `#` heading that holds the whole outline
    is the document's topic, not a tag, as the `topic` key of a JSON or YAML file is (and as
    `tags export --format md` writes it). Any other outline is all tags."""
    roots, title = _parse_outline(text, MAX_TAG_DEPTH + 1)
    if title and len(roots) == 1 and roots[0].children:
        return roots[0].label, roots[0].children
    if tree_depth(roots) > MAX_TAG_DEPTH:
        raise InvalidInputError(f"the tree is deeper than {MAX_TAG_DEPTH} levels")
    return None, roots


_TITLE_KEY = (0, 1, 0)  # the key of a `#` heading


def _parse_outline(text: str, max_depth: int) -> tuple[list[TreeNode], bool]:
    """The outline's roots, and whether the first of them is a `#` heading."""
    roots: list[TreeNode] = []
    title = False
    stack: list[tuple[tuple[int, int, int], TreeNode]] = []
    in_fence = False
    total = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or not line.strip() or _RULE.match(line) or line.lstrip().startswith("<!--"):
            continue
        key, label = _line_key(line.expandtabs(4))
        cleaned = _scalar_label(
            _LINK.sub(r"\1", label), f"line {number}", section_numbered=key[2] != _BULLET_RANK
        )
        while stack and stack[-1][0] >= key:
            stack.pop()
        if len(stack) >= max_depth:
            raise InvalidInputError(
                f"line {number}: the tree is deeper than {MAX_TAG_DEPTH} levels"
            )
        total += 1
        if total > MAX_NODES:
            raise InvalidInputError(f"more than {MAX_NODES:,} tags in one file")
        node = TreeNode(cleaned)
        if not stack and not roots:
            title = key == _TITLE_KEY
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((key, node))
    return roots, title


def count_nodes(nodes: Sequence[TreeNode]) -> int:
    total, stack = 0, list(nodes)
    while stack:
        node = stack.pop()
        total += 1
        stack.extend(node.children)
    return total


def tree_depth(nodes: Sequence[TreeNode]) -> int:
    deepest = 0
    stack = [(node, 1) for node in nodes]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children)
    return deepest


def import_tree(
    session: Session, project: Project, nodes: Sequence[TreeNode], parent: Tag | None = None
) -> int:
    """Insert a parsed tree below a tag of the project (default: the top level); returns
    the number of tags created.

    A file whose single root is the project's topic (an outline of bullets under it) is
    imported without that root, unless the project really has a top-level tag so named.
    """
    if (
        parent is None
        and len(nodes) == 1
        and normalize_text(nodes[0].label) == normalize_text(project.topic)
        and not any(
            tag.label_key == normalize_text(project.topic)
            for tag in children(session, project.id, None)
        )
    ):
        nodes = nodes[0].children
    base = parent.depth if parent else 0
    if base + tree_depth(nodes) > MAX_TAG_DEPTH:
        raise InvalidInputError(
            f"importing here would make the tree deeper than {MAX_TAG_DEPTH} levels"
        )
    return insert_tree(session, project, nodes, parent, Origin.IMPORTED)


def _as_plain(nodes: Sequence[TreeNode]) -> list[dict[str, Any]]:
    return [node.as_dict(with_ids=False) for node in nodes]


def dump_tree(topic: str, nodes: Sequence[TreeNode], file_format: str) -> str:
    """The tree as a file that `read_tree_file` reads back to the same tree."""
    if file_format == "json":
        document = {"topic": topic, "children": _as_plain(nodes)}
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if file_format in ("yaml", "yml"):
        document = {"topic": topic, "children": _as_plain(nodes)}
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    if file_format in ("md", "markdown"):
        lines = [f"# {topic}", ""]
        stack = [(node, 0) for node in reversed(nodes)]
        while stack:
            node, level = stack.pop()
            line = f"{'  ' * level}- {node.label}"
            if _RULE.match(line):  # a label of dashes would read back as a horizontal rule
                line = f'{"  " * level}- "{node.label}"'
            lines.append(line)
            stack.extend((child, level + 1) for child in reversed(node.children))
        return "\n".join(lines) + "\n"
    raise InvalidInputError(f"unknown format {file_format!r}: choose json, yaml or md")
