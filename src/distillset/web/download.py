"""Export as a download: written by the export package to a private temporary file, then
streamed to the client in chunks and removed, so memory never holds the dataset."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from distillset.export import ExportOptions, FileFormat, export_dataset
from distillset.export.options import slug
from distillset.store import Store
from distillset.web.lookup import project_by_id
from distillset.web.record_filters import record_filter

CHUNK_BYTES = 256 * 1024
MEDIA_TYPES = {
    FileFormat.JSON: "application/json",
    FileFormat.JSONL: "application/x-ndjson",
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.PARQUET: "application/vnd.apache.parquet",
}


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def _write(
    store: Store,
    project_id: int,
    target: Path,
    *,
    export_format: str,
    file_format: FileFormat,
    reasoning: str | None,
    confirmed_only: bool,
    min_score: float | None,
    tag_id: int | None,
    balanced: int | None,
) -> str:
    with store.session() as session:
        project = project_by_id(session, project_id)
        flt = record_filter(
            session,
            project,
            tag_id=tag_id,
            confirmed=True if confirmed_only else None,
            min_score=min_score,
        )
        options = ExportOptions(
            format=export_format,
            output=target,
            file_format=file_format.value,
            reasoning=reasoning or None,
            record_filter=flt,
            balanced=balanced,
        )
        export_dataset(session, project, options)
        return slug(project.name)


async def export_download(
    store: Store,
    project_id: int,
    *,
    export_format: str,
    file_format: FileFormat,
    reasoning: str | None = None,
    confirmed_only: bool = False,
    min_score: float | None = None,
    tag_id: int | None = None,
    balanced: int | None = None,
) -> StreamingResponse:
    work = Path(tempfile.mkdtemp(prefix="distillset-download-"))
    try:
        target = work / f"export.{file_format.value}"
        name = await asyncio.to_thread(
            _write,
            store,
            project_id,
            target,
            export_format=export_format,
            file_format=file_format,
            reasoning=reasoning,
            confirmed_only=confirmed_only,
            min_score=min_score,
            tag_id=tag_id,
            balanced=balanced,
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    filename = f"{name}-{export_format}.{file_format.value}"
    return StreamingResponse(
        _chunks(target),
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
