"""Importing a dataset file (multipart upload) into a project's questions and answers."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from sqlalchemy.orm import Session

from distillset import review
from distillset.domain import field_pairs
from distillset.store import TagPaths
from distillset.web.api._jobs import in_session
from distillset.web.api._tree_upload import upload_chunks
from distillset.web.deps import AppStore, Runner, project_by_id
from distillset.web.schemas import RowId, form_budget

router = APIRouter(prefix="/projects/{project_id}/dataset", tags=["dataset"])


async def save_upload(upload: UploadFile, target: Path) -> None:
    """Write the upload to ``target``, refused once it passes the import size limit."""
    with target.open("wb") as handle:
        async for chunk in upload_chunks(upload, review.MAX_IMPORT_BYTES):
            await asyncio.to_thread(handle.write, chunk)


@router.post("/import", status_code=201)
async def import_dataset(
    project_id: RowId,
    store: AppStore,
    runner: Runner,
    file: Annotated[UploadFile, File(description="a .json, .jsonl, .csv or .parquet file")],
    tag_id: Annotated[RowId | None, Form(description="default: a top-level tag 'Imported'")] = None,
    shape: Annotated[str | None, Form(max_length=20, description="alpaca, sharegpt, ...")] = None,
    file_format: Annotated[str | None, Form(max_length=20, description="default: by name")] = None,
    field: Annotated[
        list[str] | None, Form(description="custom shape: question=COLUMN, answer=COLUMN ...")
    ] = None,
    auto_tag: Annotated[
        bool, Form(description="place each new question on the best-matching leaf (a task)")
    ] = False,
    model: Annotated[
        str | None, Form(max_length=100, description="auto-tag model (default: question model)")
    ] = None,
    max_cost: Annotated[
        str | None, Form(max_length=40, description="the auto-tag task's budget")
    ] = None,
) -> dict[str, Any]:
    """Import a dataset file (Alpaca, ShareGPT, OpenAI messages, TRL or custom fields). The
    whole file is checked first: a bad row is named and nothing is written; questions the
    project already has are skipped and counted. With ``auto_tag`` the new questions are
    placed on leaves of the tree by a task started here (``auto_tag_task_id``)."""
    await in_session(store, project_by_id, project_id)  # 404 before the upload is read
    budget = form_budget(max_cost or "")
    chosen = review.file_format_of(file.filename or "upload", file_format)
    fields = field_pairs(field or [])
    with tempfile.TemporaryDirectory(prefix="distillset-import-") as work:
        path = Path(work) / f"upload.{chosen}"
        await save_upload(file, path)

        def run(session: Session) -> dict[str, Any]:
            project = project_by_id(session, project_id)
            if auto_tag:  # refused before anything is written
                into = TagPaths(session).path(tag_id) if tag_id is not None else None
                review.check_auto_tag(session, project, model, into or None)
            result = review.import_dataset(
                session, project, path, tag_id=tag_id, file_format=chosen, shape=shape,
                fields=fields,
            )  # fmt: skip
            data = result.as_dict()
            if auto_tag:
                # In the import's transaction: a refusal (no model, no tree) writes nothing.
                task = review.create_auto_tag_task(
                    session,
                    project,
                    from_tag_id=result.tag_id,
                    question_ids=result.question_ids,
                    model=model,
                    max_cost=budget,
                )
                data["auto_tag_task_id"] = task.id if task is not None else None
            return data

        data = await in_session(store, run)
    if data.get("auto_tag_task_id") is not None:
        runner.start(data["auto_tag_task_id"])
    return data
