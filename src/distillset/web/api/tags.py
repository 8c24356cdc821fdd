"""The domain tree: one level at a time (keyset pages), search, add by hand, rename, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy.orm import Session

from distillset import tags as service
from distillset.tags import CURSOR_PATTERN, TREE_PAGE_SIZE, child_rows, parse_cursor, tag_row
from distillset.web.api._jobs import in_session
from distillset.web.api._tree_upload import import_outline, read_upload
from distillset.web.deps import AppStore, DbSession, optional_tag, project_by_id, tag_in_project
from distillset.web.schemas import RowId, TagCreate, TagRename

router = APIRouter(prefix="/projects/{project_id}/tags", tags=["tags"])


@router.get("")
def list_children(
    project_id: RowId,
    session: DbSession,
    parent_id: RowId | None = None,
    after: str | None = Query(default=None, pattern=CURSOR_PATTERN),
    limit: int = Query(default=TREE_PAGE_SIZE, ge=1, le=1000),
) -> dict[str, Any]:
    """Children of a tag (top level without parent_id); `next` continues the listing."""
    project = project_by_id(session, project_id)
    parent = optional_tag(session, project, parent_id)
    rows = child_rows(
        session, project.id, parent.id if parent else None, after=parse_cursor(after), limit=limit
    )
    return {
        "items": [row.as_dict() for row in rows],
        "next": rows[-1].cursor if len(rows) == limit else None,
    }


@router.get("/search")
def search_tags(
    project_id: RowId,
    session: DbSession,
    q: str = Query(min_length=1, max_length=500, description="part of a label, or `A > B`"),
    limit: int = Query(default=20, ge=1, le=service.MAX_SEARCH_RESULTS),
) -> list[dict[str, Any]]:
    """Tags whose label contains the text (labels starting with it first); with `A > B`,
    under an ancestor that contains A. Each with its id and path."""
    project = project_by_id(session, project_id)
    return [match.as_dict() for match in service.search_tags(session, project.id, q, limit=limit)]


@router.post("", status_code=201)
def add_tag(project_id: RowId, body: TagCreate, session: DbSession) -> dict[str, Any]:
    """Add a tag by hand under a parent (or at the top level)."""
    project = project_by_id(session, project_id)
    parent = optional_tag(session, project, body.parent_id)
    created = service.add_tag(session, project.id, parent, body.label)
    return tag_detail(session, project_id, created.id)


@router.post("/import", status_code=201)
async def import_tags(
    project_id: RowId,
    store: AppStore,
    file: Annotated[UploadFile, File(description="a JSON, YAML or Markdown outline")],
    file_format: Annotated[str | None, Form(pattern="^(json|yaml|md)$")] = None,
    parent_id: Annotated[RowId | None, Form()] = None,
) -> dict[str, int]:
    """Import an outline below a tag (or at the top level); existing labels are merged."""
    text = await read_upload(file)

    def work(session: Session) -> tuple[int, int]:
        project = project_by_id(session, project_id)
        return import_outline(
            session,
            project,
            file.filename or "",
            text,
            file_format=file_format,
            parent_id=parent_id,
        )

    created, total = await in_session(store, work)
    return {"created": created, "in_file": total}


@router.get("/{tag_id}")
def get_tag(project_id: RowId, tag_id: RowId, session: DbSession) -> dict[str, Any]:
    return tag_detail(session, project_id, tag_id)


def tag_detail(session: DbSession, project_id: int, tag_id: int) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    tag = tag_in_project(session, project, tag_id)
    return {
        **tag_row(session, tag).as_dict(),
        "path": str(service.tag_path(session, tag)),
        "subtree": asdict(service.subtree_counts(session, tag)),
    }


@router.patch("/{tag_id}")
def rename_tag(
    project_id: RowId, tag_id: RowId, body: TagRename, session: DbSession
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    service.rename_tag(session, tag_in_project(session, project, tag_id), body.label)
    return tag_detail(session, project_id, tag_id)


@router.delete("/{tag_id}")
def delete_tag(project_id: RowId, tag_id: RowId, session: DbSession) -> dict[str, Any]:
    """Delete the tag with its subtree; answers how many tags, questions and answers went."""
    project = project_by_id(session, project_id)
    counts = service.delete_tag(session, tag_in_project(session, project, tag_id))
    return {"deleted": tag_id, **asdict(counts)}
