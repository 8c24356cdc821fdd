"""Line-format downloads (JSONL, a JSON array, CSV) rendered while they are sent.

Rows come batch by batch from the dataset's record iterator through the export format, and
are encoded as the export package's writers encode them, so the first bytes leave at once,
memory holds one batch whatever the dataset's size, and the bytes equal an exported file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

from distillset.dataset.records import iter_records
from distillset.export import ExportOptions, FileFormat
from distillset.export.options import ExportPlan
from distillset.export.selection import BalancedLimit
from distillset.export.service import RecordContexts
from distillset.export.writers import csv_cell, json_row
from distillset.store import Store
from distillset.web.lookup import project_by_id

LINE_FORMATS = (FileFormat.JSON, FileFormat.JSONL, FileFormat.CSV)
DOWNLOAD_BATCH = 1_000


@dataclass(frozen=True)
class LineEncoder:
    """The text before, between and after batches of rows, per file format."""

    file_format: FileFormat
    names: list[str]

    def head(self) -> str:
        if self.file_format is FileFormat.JSON:
            return "["
        if self.file_format is FileFormat.CSV:
            return self._csv([self.names])
        return ""

    def rows(self, rows: list[dict[str, Any]], written: int) -> str:
        if self.file_format is FileFormat.JSONL:
            return "\n".join(json_row(row) for row in rows) + "\n"
        if self.file_format is FileFormat.JSON:
            lead = ",\n" if written else "\n"
            return lead + ",\n".join(json_row(row) for row in rows)
        return self._csv([csv_cell(row.get(name)) for name in self.names] for row in rows)

    def tail(self, written: int) -> str:
        if self.file_format is FileFormat.JSON:
            return "\n]\n" if written else "]\n"
        return ""

    @staticmethod
    def _csv(rows: Any) -> str:
        buffer = io.StringIO()
        # As the CSV file writer: QUOTE_MINIMAL and CRLF line ends (RFC 4180).
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue()


def _line_chunks(
    store: Store, project_id: int, options: ExportOptions, plan: ExportPlan
) -> Generator[bytes]:
    encoder = LineEncoder(plan.file_format, list(plan.fmt.schema(plan.ctx).names))
    balance = BalancedLimit(options.balanced) if options.balanced else None
    contexts = RecordContexts(plan.ctx, options)
    with store.session() as session:
        project = project_by_id(session, project_id)
        yield encoder.head().encode()
        written = 0
        for batch in iter_records(
            session, project, options.record_filter, batch_size=DOWNLOAD_BATCH
        ):
            rows = [
                contexts.row(plan.fmt, record)
                for record in batch
                if balance is None or balance.keep(record.tag_id)
            ]
            if rows:
                yield encoder.rows(rows, written).encode()
                written += len(rows)
        yield encoder.tail(written).encode()


async def line_download(
    store: Store, project_id: int, options: ExportOptions, plan: ExportPlan
) -> AsyncIterator[bytes]:
    """The download's bytes, each batch read off the event loop; a client that goes away
    closes the reading (and its database session) at once."""
    chunks = _line_chunks(store, project_id, options, plan)
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        # Synchronous: a cancelled download gets no further await. A batch still being
        # read in its thread cannot be closed now; the generator then closes when collected.
        with contextlib.suppress(ValueError):
            chunks.close()
