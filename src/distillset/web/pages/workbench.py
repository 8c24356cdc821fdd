"""Pages: the distill workbench (lazy tree, tag actions, questions of a tag, generation)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset import resolve
from distillset import tags as tag_service
from distillset.domain import InvalidInputError
from distillset.kinds import task_as_dict
from distillset.questions import PAGE_SIZE as QUESTION_PAGE
from distillset.questions import list_questions, question_row
from distillset.runs import get_task
from distillset.store import Question, Store, Tag
from distillset.tags import (
    CURSOR_PATTERN,
    MAX_OPEN_NODES,
    TREE_PAGE_SIZE,
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
from distillset.web.api import _generation as generation
from distillset.web.api import _jobs as jobs
from distillset.web.api._tree_upload import import_outline, read_upload
from distillset.web.deps import (
    AppSettings,
    AppStore,
    DbSession,
    Runner,
    optional_tag,
    project_by_id,
    tag_in_project,
)
from distillset.web.pages.common import render
from distillset.web.pages.forms import parse_form
from distillset.web.schemas import MAX_COUNT, AfterId, AnswerTask, RowId, form_budget

router = APIRouter(prefix="/projects/{project_id}")

Count = Annotated[int, Form(ge=1, le=MAX_COUNT)]


@router.get("/distill")
def distill_page(project_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    rows = child_rows(session, project.id, None)
    return render(
        request,
        "distill.html",
        project=project,
        active="distill",
        rows=rows,
        parent_id=None,
        next_cursor=next_cursor(rows, TREE_PAGE_SIZE),
    )


@router.get("/distill/children")
def children_fragment(
    project_id: RowId,
    request: Request,
    session: DbSession,
    parent_id: RowId | None = None,
    after: str | None = Query(default=None, pattern=CURSOR_PATTERN),
) -> Response:
    """One page of a node's children: what a node opening (or "More…") loads."""
    project = project_by_id(session, project_id)
    parent = optional_tag(session, project, parent_id)
    rows = child_rows(session, project.id, parent.id if parent else None, after=parse_cursor(after))
    return render(
        request,
        "_tag_children.html",
        project=project,
        rows=rows,
        parent_id=parent_id,
        cursor=after,
        next_cursor=next_cursor(rows, TREE_PAGE_SIZE),
    )


@router.get("/distill/search")
def search_fragment(
    project_id: RowId,
    request: Request,
    session: DbSession,
    q: str = Query(default="", max_length=500),
) -> Response:
    """Tags whose label (or `A > B` path) contains the text: the tree's jump list."""
    project = project_by_id(session, project_id)
    matches = search_tags(session, project.id, q) if q.strip() else []
    return render(request, "_tag_search.html", project=project, matches=matches, q=q)


@router.get("/distill/tags/{tag_id}/reveal")
def reveal_tag(project_id: RowId, tag_id: RowId, request: Request, session: DbSession) -> Response:
    """A jump to a tag: its panel, and the tree opened down to it."""
    project = project_by_id(session, project_id)
    tag = tag_in_project(session, project, tag_id)
    rows, from_start = revealed_rows(session, tag)
    open_rows(session, project.id, rows, open_tag_ids(request))
    return render(
        request,
        "_tag_reveal.html",
        project=project,
        root_rows=rows,
        root_next=next_cursor(rows, TREE_PAGE_SIZE),
        root_earlier=not from_start,
        **_detail_context(session, project.id, tag),
    )


@router.get("/distill/tags/{tag_id}/menu")
def tag_menu(project_id: RowId, tag_id: RowId, request: Request, session: DbSession) -> Response:
    """The tree's per-tag menu (a dialog): add sub-tags, questions, rename, move, delete."""
    project = project_by_id(session, project_id)
    tag = tag_in_project(session, project, tag_id)
    return render(
        request,
        "_tag_menu.html",
        project=project,
        tag=tag,
        path=str(tag_service.tag_path(session, tag)),
        subtree=asdict(tag_service.subtree_counts(session, tag)),
    )


TREE_FILE_TYPES = {"json": "application/json", "yaml": "application/yaml", "md": "text/markdown"}


@router.get("/distill/tree.{file_format}")
def export_tree(project_id: RowId, file_format: str, session: DbSession) -> Response:
    """The whole tree as a file (as `tags export`), read back by the outline import."""
    project = project_by_id(session, project_id)
    if file_format not in TREE_FILE_TYPES:
        raise InvalidInputError(f"unknown format {file_format!r}: choose json, yaml or md")
    text = tag_service.dump_tree(
        project.topic, tag_service.load_tree(session, project.id), file_format
    )
    name = f"{project.name}-tags.{file_format}".replace('"', "")
    return Response(
        text.encode("utf-8"),
        media_type=f"{TREE_FILE_TYPES[file_format]}; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _detail_context(session: Session, project_id: int, tag: Tag) -> dict[str, Any]:
    questions = list_questions(session, project_id, tag_id=tag.id, with_answers=True)
    return {
        "tag": tag,
        "path": str(tag_service.tag_path(session, tag)),
        "row": expanded_row(session, tag),
        "subtree": asdict(tag_service.subtree_counts(session, tag)),
        "questions": questions,
        "next_question_cursor": questions[-1].id if len(questions) == QUESTION_PAGE else None,
    }


@router.get("/distill/tags/{tag_id}")
def tag_detail(project_id: RowId, tag_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    tag = tag_in_project(session, project, tag_id)
    return render(
        request, "_tag_detail.html", project=project, **_detail_context(session, project.id, tag)
    )


@router.get("/distill/tags/{tag_id}/questions")
def tag_questions(
    project_id: RowId,
    tag_id: RowId,
    request: Request,
    session: DbSession,
    after: AfterId | None = None,
) -> Response:
    project = project_by_id(session, project_id)
    tag = tag_in_project(session, project, tag_id)
    questions = list_questions(session, project.id, tag_id=tag.id, after=after, with_answers=True)
    return render(
        request,
        "_question_items.html",
        project=project,
        tag=tag,
        questions=questions,
        next_question_cursor=questions[-1].id if len(questions) == QUESTION_PAGE else None,
    )


# The page names its open tree nodes in this header when it sends an edit (see tree.js).
OPEN_HEADER = "x-open-tags"


def open_tag_ids(request: Request) -> set[int]:
    """The tree nodes the page has open (ids in a header; anything else is ignored)."""
    given = request.headers.get(OPEN_HEADER, "")[:5000].split(",")
    return {int(part) for part in given[:MAX_OPEN_NODES] if part.isdigit() and len(part) < 19}


def _preview(
    request: Request,
    store: Store,
    project_id: int,
    parent_id: int | None,
    *,
    title: str,
    items: list[str],
    error: str | None = None,
    show_tag: int | None = None,
    **extra: Any,
) -> Response:
    """The preview of what was created, with the changed part of the tree re-rendered."""
    with store.session() as session:
        project = project_by_id(session, project_id)
        context: dict[str, Any] = {"project": project, "title": title, "items": items}
        context["error"] = error
        opened = open_tag_ids(request)
        if parent_id is None:
            rows = child_rows(session, project.id, None)
            open_rows(session, project.id, rows, opened)
            context["root_rows"] = rows
            context["root_next"] = next_cursor(rows, TREE_PAGE_SIZE)
        else:
            node = expanded_row(session, tag_in_project(session, project, parent_id))
            open_rows(session, project.id, node.child_rows or [], opened)
            context["node_row"] = node
        if show_tag is not None:
            tag = tag_in_project(session, project, show_tag)
            context.update(_detail_context(session, project.id, tag))
        context.update(extra)
        return render(request, "_preview.html", **context)


def _labels(store: Store, ids: list[int]) -> list[str]:
    with store.session() as session:
        return [tag.label for tag in (session.get(Tag, tag_id) for tag_id in ids) if tag]


@router.post("/distill/tags")
def add_tag_by_hand(
    project_id: RowId,
    request: Request,
    store: AppStore,
    label: Annotated[str, Form(min_length=1)],
    parent_id: Annotated[RowId | None, Form()] = None,
) -> Response:
    with store.session() as session:
        project = project_by_id(session, project_id)
        parent = optional_tag(session, project, parent_id)
        added = tag_service.add_tag(session, project.id, parent, label).label
    return _preview(request, store, project_id, parent_id, title="Added by hand", items=[added])


@router.post("/distill/tags/{tag_id}/rename")
def rename_tag(
    project_id: RowId,
    tag_id: RowId,
    request: Request,
    store: AppStore,
    label: Annotated[str, Form(min_length=1)],
) -> Response:
    """The panel is shown again under the new label, and the tree node's label follows."""
    with store.session() as session:
        project = project_by_id(session, project_id)
        tag = tag_service.rename_tag(session, tag_in_project(session, project, tag_id), label)
        return render(
            request,
            "_preview.html",
            project=project,
            title="Renamed",
            items=[tag.label],
            renamed=True,
            **_detail_context(session, project.id, tag),
        )


@router.post("/distill/tags/{tag_id}/move")
def move_tag(
    project_id: RowId,
    tag_id: RowId,
    request: Request,
    store: AppStore,
    parent: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Move the tag (with its subtree) under the tag at a path; blank: to the top level."""
    with store.session() as session:
        project = project_by_id(session, project_id)
        tag = tag_in_project(session, project, tag_id)
        new_parent = optional_tag(
            session, project, resolve.tag_id(session, project, parent) if parent.strip() else None
        )
        tag = tag_service.move_tag(session, tag, new_parent)
        rows, from_start = revealed_rows(session, tag)
        open_rows(session, project.id, rows, open_tag_ids(request))
        return render(
            request,
            "_tag_reveal.html",
            project=project,
            root_rows=rows,
            root_next=next_cursor(rows, TREE_PAGE_SIZE),
            root_earlier=not from_start,
            moved=str(tag_service.tag_path(session, tag)),
            **_detail_context(session, project.id, tag),
        )


@router.post("/distill/tags/{tag_id}/delete")
def delete_tag(project_id: RowId, tag_id: RowId, request: Request, store: AppStore) -> Response:
    with store.session() as session:
        project = project_by_id(session, project_id)
        tag = tag_in_project(session, project, tag_id)
        label, parent_id = tag.label, tag.parent_id
        counts = tag_service.delete_tag(session, tag)
    summary = (
        f"Deleted {label}: {counts.tags} tags, {counts.questions} questions "
        f"and {counts.answers} answers."
    )
    return _preview(request, store, project_id, parent_id, title=summary, items=[])


@router.post("/distill/generate-tags")
async def generate_tags(
    project_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    count: Count,
    parent_id: Annotated[RowId | None, Form()] = None,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    budget = form_budget(max_cost)
    result = await generation.add_sub_tags(runner, settings, project_id, parent_id, count, budget)
    return _preview(
        request,
        store,
        project_id,
        parent_id,
        title=f"Created {len(result.created)} of {result.wanted} tags",
        items=_labels(store, result.created),
        error=result.error,
    )


@router.post("/distill/tags/{tag_id}/generate-questions")
async def generate_questions(
    project_id: RowId,
    tag_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    count: Count,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    budget = form_budget(max_cost)
    result = await generation.add_questions(runner, settings, project_id, tag_id, count, budget)
    with store.session() as session:
        parent_id = tag_in_project(session, project_by_id(session, project_id), tag_id).parent_id
        items = list(
            session.scalars(
                select(Question.text).where(Question.id.in_(result.created)).order_by(Question.id)
            )
        )
    return _preview(
        request,
        store,
        project_id,
        parent_id,
        title=f"Created {len(result.created)} of {result.wanted} questions",
        items=items,
        error=result.error,
        show_tag=tag_id,
    )


def _tag_counts_context(session: Session, tag_id: int | None) -> dict[str, Any]:
    """A tag with its current counts, for a reply that refreshes them where they are shown."""
    tag = session.get(Tag, tag_id) if tag_id is not None else None
    if tag is None:
        return {}
    return {
        "tag": tag,
        "counts": tag_row(session, tag),
        "subtree": asdict(tag_service.subtree_counts(session, tag)),
    }


@router.post("/distill/questions/{question_id}/answer")
async def answer_question(
    project_id: RowId,
    question_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    fresh: Annotated[bool, Form()] = False,
) -> Response:
    """Answer the question; "New sample" (fresh) replaces its answer with a new reply.

    The reply also carries the tag's new counts for its tree node and panel."""
    outcome = await generation.answer_one(runner, settings, project_id, question_id, fresh=fresh)
    with store.session() as session:
        project = project_by_id(session, project_id)
        row = question_row(session, project.id, question_id)
        return render(
            request,
            "_question_answered.html",
            project=project,
            questions=[row] if row else [],
            next_question_cursor=None,
            message=outcome.error,
            **_tag_counts_context(session, row.tag_id if row else None),
        )


# A page refreshes at most this many tree nodes at once (the ones it has loaded).
MAX_REFRESHED_NODES = 1000


@router.get("/distill/counts")
def counts_fragment(
    project_id: RowId,
    request: Request,
    session: DbSession,
    ids: list[RowId] = Query(default=[], max_length=MAX_REFRESHED_NODES),
    tag_id: RowId | None = None,
    counts_only: bool = False,
) -> Response:
    """The current counts of the tree nodes a page shows and of its open tag's panel, as
    out-of-band swaps: what the page asks for while a task it follows runs (counts_only) and
    when it has finished (its panel's questions too)."""
    project = project_by_id(session, project_id)
    context: dict[str, Any] = {"project": project, "rows": rows_by_id(session, project.id, ids)}
    context["counts_only"] = counts_only
    tag = session.get(Tag, tag_id) if tag_id is not None else None
    if tag is not None and tag.project_id == project.id:  # a deleted tag's panel: left as is
        context.update(_detail_context(session, project.id, tag))
    return render(request, "_counts_refresh.html", **context)


@router.get("/distill/subtree-counts")
def subtree_counts_fragment(
    project_id: RowId,
    request: Request,
    session: DbSession,
    ids: list[RowId] = Query(default=[], max_length=TREE_PAGE_SIZE),
) -> Response:
    """The subtree counts of a page of tree nodes, as out-of-band swaps (asked for after the
    nodes are shown: at the top of a large tree they read the whole tree)."""
    project = project_by_id(session, project_id)
    rows = rows_by_id(session, project.id, ids)
    add_subtree_counts(session, rows)
    return render(request, "_subtree_counts.html", project=project, rows=rows)


@router.post("/distill/tags/{tag_id}/answer-all")
async def answer_all(
    project_id: RowId,
    tag_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
) -> Response:
    """Answer the tag's unanswered questions (and its subtree's) as a task, shown live; with
    several answers per question, each question gets the samples it lacks."""
    body = parse_form(AnswerTask, await request.form())
    job = await jobs.in_session(
        store,
        jobs.create_answers,
        settings,
        project_id,
        tag_id,
        body,
    )
    runner.start(job.task_id, use_cache=not body.fresh)
    with store.session() as session:
        project = project_by_id(session, project_id)
        task = task_as_dict(get_task(session, job.task_id), settings)
    return render(
        request,
        "_preview.html",
        project=project,
        title=f"Answering {job.plan.answers} questions",
        items=[],
        task=task,
    )


@router.post("/distill/import")
async def import_outline_file(
    project_id: RowId,
    request: Request,
    store: AppStore,
    file: Annotated[UploadFile, File()],
) -> Response:
    text = await read_upload(file)

    def work(session: Session) -> tuple[int, int]:
        project = project_by_id(session, project_id)
        return import_outline(session, project, file.filename or "", text)

    created, total = await jobs.in_session(store, work)
    return _preview(
        request,
        store,
        project_id,
        None,
        title=f"Imported {created} new tags ({total} in the file)",
        items=[],
    )
