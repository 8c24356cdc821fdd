"""Importing an uploaded outline (JSON, YAML or Markdown) into the tree.

The upload is size-checked while it is read, decoded and fully validated by the tree_io
service before one tag is written; the import runs in the request's single transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import UploadFile
from sqlalchemy.orm import Session

from distillset import tags as tag_tree
from distillset.domain import InvalidInputError
from distillset.store import Project
from distillset.web.deps import tag_in_project

READ_CHUNK = 1024 * 1024


async def upload_chunks(upload: UploadFile, limit: int) -> AsyncIterator[bytes]:
    """The upload's bytes as they arrive, refused once they pass ``limit`` bytes (an upload
    is never read whole before it is checked)."""
    size = 0
    while chunk := await upload.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            shown = f"{limit // 1_000_000} MB" if limit >= 1_000_000 else f"{limit:,} bytes"
            raise InvalidInputError(f"the file is larger than {shown}")
        yield chunk


async def read_upload(upload: UploadFile) -> str:
    """The upload as text, refused once it passes the size limit (never read whole first)."""
    chunks = [chunk async for chunk in upload_chunks(upload, tag_tree.MAX_FILE_BYTES)]
    try:
        return b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the file is not UTF-8 text (byte {exc.start})") from exc


def import_outline(
    session: Session,
    project: Project,
    filename: str,
    text: str,
    *,
    file_format: str | None = None,
    parent_id: int | None = None,
) -> tuple[int, int]:
    """Returns (tags created, tags in the file); existing labels are merged, not duplicated."""
    # Only the name's suffix is read; the upload never touches the file system.
    chosen = tag_tree.format_of(Path(Path(filename or "upload").name), file_format)
    nodes = tag_tree.parse_tree(text, chosen)
    parent = None if parent_id is None else tag_in_project(session, project, parent_id)
    created = tag_tree.import_tree(session, project, nodes, parent)
    return created, tag_tree.count_nodes(nodes)
