"""`distillset tags ...`: edit, import, export and print a project's domain tree by hand."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.text import Text
from rich.tree import Tree
from sqlalchemy.orm import Session

from distillset import resolve, tags
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    YesOption,
    confirm_unless,
    console,
    print_json,
    printable,
    report,
    say,
    state_of,
)
from distillset.cli.lazy import LazyGroup
from distillset.domain import InvalidInputError, Origin
from distillset.store import Tag

# `tags generate` lives in cli/distill.py (it needs the gateway): see cli/lazy.py.
tags_app = typer.Typer(
    name="tags", cls=LazyGroup, no_args_is_help=True, help="The domain tree of a project."
)
app.add_typer(tags_app)

PathOption = typer.Option(..., "--path", help="Tag path, written 'A > B > C'.")


def _shown(session: Session, tag: Tag) -> dict[str, Any]:
    """A changed tag as commands report it: its id and full path."""
    return {"id": tag.id, "path": str(tags.tag_path(session, tag))}


@tags_app.command("add")
def tags_add(
    ctx: typer.Context,
    name: str = ProjectArgument,
    path: str = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a tag by hand (missing ancestors are created too)."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        tag = tags.add_tag_path(session, project, path, Origin.MANUAL)
        shown = _shown(session, tag)
    report(shown, as_json, f"added tag {shown['path']!r}")


@tags_app.command("rename")
def tags_rename(
    ctx: typer.Context,
    name: str = ProjectArgument,
    path: str = PathOption,
    to: str = typer.Option(..., "--to", help="The new label."),
    as_json: bool = JsonOption,
) -> None:
    """Rename a tag; its questions and subtree stay attached."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        tag = tags.rename_tag(session, resolve.tag_at(session, project, path), to)
        shown = _shown(session, tag)
    report(shown, as_json, f"renamed to {shown['path']!r}")


@tags_app.command("delete")
def tags_delete(
    ctx: typer.Context,
    name: str = ProjectArgument,
    path: str = PathOption,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a tag with its subtree, their questions and answers."""
    store = state_of(ctx).store
    with store.session() as session:
        project = resolve.project_named(session, name)
        counts = tags.subtree_counts(session, resolve.tag_at(session, project, path))
    # Only a subtree with questions is worth a question: empty tags are cheap to re-create.
    confirm_unless(
        yes or not counts.questions,
        f"Delete {counts.tags} tags with {counts.questions} questions "
        f"and {counts.answers} answers?",
    )
    with store.session() as session:
        project = resolve.project_named(session, name)
        counts = tags.delete_tag(session, resolve.tag_at(session, project, path))
    report(
        {"tags": counts.tags, "questions": counts.questions, "answers": counts.answers},
        as_json,
        f"deleted {counts.tags} tags, {counts.questions} questions and {counts.answers} answers",
    )


@tags_app.command("move")
def tags_move(
    ctx: typer.Context,
    name: str = ProjectArgument,
    path: str = PathOption,
    under: str = typer.Option(
        ..., "--under", help="New parent path; '' or the topic moves it to the top level."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Move a tag (with its subtree) under another parent."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        tag = resolve.tag_at(session, project, path)
        tags.move_tag(session, tag, resolve.parent_at(session, project, under))
        shown = _shown(session, tag)
    report(shown, as_json, f"moved to {shown['path']!r}")


@tags_app.command("import")
def tags_import(
    ctx: typer.Context,
    name: str = ProjectArgument,
    file: Path = typer.Argument(..., help="A .json, .yaml/.yml or .md outline."),
    under: str | None = typer.Option(None, "--under", help="Import below this tag path."),
    file_format: str | None = typer.Option(
        None, "--format", help="json, yaml or md (default: from the file name)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import a tree (e.g. a book's table of contents); tags already present are merged."""
    nodes = tags.read_tree_file(file, file_format)
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        created = tags.import_tree(
            session, project, nodes, resolve.parent_at(session, project, under)
        )
    total = tags.count_nodes(nodes)
    report(
        {"read": total, "created": created},
        as_json,
        f"imported {total} tags from {file} ({created} new, {total - created} already there)",
    )


@tags_app.command("export")
def tags_export(
    ctx: typer.Context,
    name: str = ProjectArgument,
    file_format: str = typer.Option("json", "--format", help="json, yaml or md."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Write the tree as JSON, YAML or a Markdown outline (re-importable)."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        text = tags.dump_tree(project.topic, tags.load_tree(session, project.id), file_format)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot write {output}: {exc.strerror or exc}") from exc
        say(f"wrote {output}")


def _rich_tree(topic: str, nodes: Sequence[tags.TreeNode]) -> Tree:
    root = Tree(Text(printable(topic, single_line=True), style="bold"))
    # Iterative, so a deep tree cannot exhaust the stack.
    stack: list[tuple[Tree, str, Sequence[tags.TreeNode]]] = [(root, "", nodes)]
    while stack:
        branch, prefix, level = stack.pop()
        for index, node in enumerate(level, start=1):
            number = f"{prefix}{index}"
            label = Text.assemble((number, "dim"), " ", printable(node.label, single_line=True))
            if node.questions:
                label.append(f"  ({node.questions} questions)", style="cyan")
            stack.append((branch.add(label), f"{number}.", node.children))
    return root


def _plain_lines(nodes: Sequence[tags.TreeNode]) -> list[str]:
    lines: list[str] = []
    stack: list[tuple[str, tags.TreeNode]] = [
        (f"{i}", node) for i, node in reversed(list(enumerate(nodes, start=1)))
    ]
    while stack:
        number, node = stack.pop()
        indent = "  " * number.count(".")
        count = f" ({node.questions} questions)" if node.questions else ""
        lines.append(f"{indent}{number} {printable(node.label, single_line=True)}{count}")
        stack.extend(
            (f"{number}.{i}", child)
            for i, child in reversed(list(enumerate(node.children, start=1)))
        )
    return lines


@tags_app.command("tree")
def tags_tree(ctx: typer.Context, name: str = ProjectArgument, as_json: bool = JsonOption) -> None:
    """Print the tree; numbering like 1.2 comes from position."""
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        topic = project.topic
        nodes = tags.load_tree(session, project.id)
    if as_json:
        print_json({"topic": topic, "children": [node.as_dict() for node in nodes]})
    elif console.is_terminal:
        console.print(_rich_tree(topic, nodes))
    else:
        topic_line = printable(topic, single_line=True)
        sys.stdout.write("\n".join([topic_line, *_plain_lines(nodes)]) + "\n")
