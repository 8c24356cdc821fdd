"""Export as a download: the export package's writers render each batch of records while it
is sent (stream_export), so the bytes equal an exported file's, the first leave at once and
memory holds one batch whatever the dataset's size. Every option is checked before the first
byte."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator
from typing import Any

from fastapi.responses import StreamingResponse

from distillset.export import (
    ExportOptions,
    FileFormat,
    plan_stream,
    slug,
    stream_export,
    stream_questions,
)
from distillset.questions import QuestionFilter
from distillset.store import Store
from distillset.web.api._record_filters import record_filter
from distillset.web.deps import project_by_id

MEDIA_TYPES = {
    FileFormat.JSON: "application/json",
    FileFormat.JSONL: "application/x-ndjson",
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.PARQUET: "application/vnd.apache.parquet",
}


def _options(
    store: Store,
    project_id: int,
    *,
    export_format: str,
    file_format: FileFormat,
    reasoning: str | None,
    confirmed_only: bool,
    min_score: float | None,
    tag_id: int | None,
    balanced: int | None,
    min_difficulty: int | None,
    refuse_empty: bool,
    extra: dict[str, Any],
) -> tuple[ExportOptions, str]:
    """The checked options (a bad format, reasoning mode or tag is refused here) and the
    file name's stem."""
    with store.session() as session:
        project = project_by_id(session, project_id)
        flt = record_filter(
            session,
            project,
            tag_id=tag_id,
            confirmed=True if confirmed_only else None,
            min_score=min_score,
            min_difficulty=min_difficulty,
        )
        options = ExportOptions(
            format=export_format,
            file_format=file_format.value,
            reasoning=reasoning or None,
            record_filter=flt,
            balanced=balanced,
            **extra,
        )
        plan_stream(session, project, options, refuse_empty=refuse_empty)
        return options, slug(project.name)


def _chunks(store: Store, project_id: int, options: ExportOptions) -> Generator[bytes]:
    with store.session() as session:
        yield from stream_export(session, project_by_id(session, project_id), options)


async def _sent(chunks: Generator[bytes]) -> AsyncIterator[bytes]:
    """Each batch read off the event loop; a client that goes away closes the reading (and
    its database session) at once."""
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        # Synchronous: a cancelled download gets no further await. A batch still being
        # read in its thread cannot be closed now; the generator then closes when collected.
        with contextlib.suppress(ValueError):
            chunks.close()


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
    min_difficulty: int | None = None,
    refuse_empty: bool = False,
    extra: dict[str, Any] | None = None,
) -> StreamingResponse:
    """The download; ``refuse_empty`` (the export page) says that nothing matched rather
    than sending an empty file. ``extra``: more ExportOptions (delimiters, system prompt,
    field names, samples, balance, margin)."""
    options, name = await asyncio.to_thread(
        _options,
        store,
        project_id,
        export_format=export_format,
        file_format=file_format,
        reasoning=reasoning,
        confirmed_only=confirmed_only,
        min_score=min_score,
        tag_id=tag_id,
        balanced=balanced,
        min_difficulty=min_difficulty,
        refuse_empty=refuse_empty,
        extra=extra or {},
    )
    filename = f"{name}-{export_format}.{file_format.value}"
    return StreamingResponse(
        _sent(_chunks(store, project_id, options)),
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _question_chunks(
    store: Store, project_id: int, file_format: FileFormat, question_filter: QuestionFilter
) -> Generator[bytes]:
    with store.session() as session:
        project = project_by_id(session, project_id)
        yield from stream_questions(session, project, file_format.value, question_filter)


async def questions_download(
    store: Store, project_id: int, file_format: FileFormat, question_filter: QuestionFilter
) -> StreamingResponse:
    """Questions alone (id, tag path, question) as a streamed file; a bad tag is refused
    before the first byte."""

    def check() -> str:
        with store.session() as session:
            project = project_by_id(session, project_id)
            # Checked now (an unknown tag answers 404), not once the download has begun.
            stream_questions(session, project, file_format.value, question_filter)
            return slug(project.name)

    name = await asyncio.to_thread(check)
    return StreamingResponse(
        _sent(_question_chunks(store, project_id, file_format, question_filter)),
        media_type=MEDIA_TYPES[file_format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}-questions.{file_format.value}"'
        },
    )
