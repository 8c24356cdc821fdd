"""Export as a download. Line formats (JSONL, JSON, CSV) are rendered while they are sent
(export_lines); Parquet, whose footer comes last, is written by the export package to a
private temporary file first, then streamed in chunks and removed. Either way memory never
holds the dataset, and every option is checked before the first byte."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from distillset.dataset.filters import record_conditions
from distillset.export import ExportOptions, FileFormat, export_dataset
from distillset.export.options import ExportPlan, plan_export, slug
from distillset.store import Store
from distillset.web.export_lines import LINE_FORMATS, line_download
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


def _options(
    store: Store,
    project_id: int,
    output: Path,
    *,
    export_format: str,
    file_format: FileFormat,
    reasoning: str | None,
    confirmed_only: bool,
    min_score: float | None,
    tag_id: int | None,
    balanced: int | None,
) -> tuple[ExportOptions, ExportPlan, str]:
    """The checked options (a bad format, reasoning mode or tag is refused here), the plan,
    and the file name's stem."""
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
            output=output,
            file_format=file_format.value,
            reasoning=reasoning or None,
            record_filter=flt,
            balanced=balanced,
        )
        plan = plan_export(
            options,
            project_name=project.name,
            language=project.language,
            system=project.answer_system_prompt,
        )
        record_conditions(session, project, flt)
        return options, plan, slug(project.name)


def _write_file(store: Store, project_id: int, options: ExportOptions) -> None:
    with store.session() as session:
        export_dataset(session, project_by_id(session, project_id), options)


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
    cleanup = BackgroundTask(shutil.rmtree, work, ignore_errors=True)
    try:
        # A line format writes nothing there: the path only satisfies the planning.
        target = work / f"export.{file_format.value}"
        options, plan, name = await asyncio.to_thread(
            _options,
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
        if file_format in LINE_FORMATS:
            body: Iterator[bytes] | AsyncIterator[bytes] = line_download(
                store, project_id, options, plan
            )
        else:
            await asyncio.to_thread(_write_file, store, project_id, options)
            body = _chunks(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    filename = f"{name}-{export_format}.{file_format.value}"
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        background=cleanup,
    )
