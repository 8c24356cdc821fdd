"""Row writers for JSON (one array), JSONL, CSV and Parquet, fed one batch at a time.

They write to a binary sink, not a path: an exported file and a web download are the same
writer over an open file or a :class:`ChunkSink`, so their bytes are equal."""

from __future__ import annotations

import csv
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq


class FileFormat(StrEnum):
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"
    HF = "hf"  # a Hugging Face `datasets` directory (save_to_disk)


SUFFIXES = {
    ".json": FileFormat.JSON,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".csv": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
}


def json_row(row: dict[str, Any]) -> str:
    """One row as the JSON and JSONL files hold it."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


class Sink(Protocol):
    """Where a writer's bytes go: a binary file opened for writing, or a ChunkSink."""

    def write(self, data: bytes, /) -> int | None: ...


class ChunkSink(io.RawIOBase):
    """A binary sink that keeps what is written until :meth:`drain` hands it on: how rows
    become the byte chunks of a stream (a web download) instead of a file's contents."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        # Parquet asks where it is; a stream only ever grows.
        return self._position

    def drain(self) -> bytes:
        """What was written since the last drain."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class RowWriter(ABC):
    """Writes rows of one schema to a binary sink (an open file, a ChunkSink); ``close``
    finishes the format (a JSON array's bracket, Parquet's footer) and leaves the sink open
    to whoever opened it."""

    def __init__(self, sink: Sink, schema: pa.Schema) -> None:
        self.sink = sink
        self.schema = schema
        self.rows = 0

    @abstractmethod
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class _TextWriter(RowWriter):
    def _text(self, text: str) -> None:
        self.sink.write(text.encode("utf-8"))

    def close(self) -> None:
        return None


class JsonlWriter(_TextWriter):
    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._text("\n".join(json_row(row) for row in rows) + "\n")
            self.rows += len(rows)


class JsonArrayWriter(_TextWriter):
    """A valid JSON array written element by element, never held whole."""

    def __init__(self, sink: Sink, schema: pa.Schema) -> None:
        super().__init__(sink, schema)
        self._text("[")

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        lead = ",\n" if self.rows else "\n"
        self._text(lead + ",\n".join(json_row(row) for row in rows))
        self.rows += len(rows)

    def close(self) -> None:
        self._text("\n]\n" if self.rows else "]\n")


def csv_cell(value: Any) -> Any:
    """A value as a CSV file's cell holds it."""
    # Nested values (message lists, labels) become their JSON text; None an empty cell.
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


class CsvWriter(_TextWriter):
    def __init__(self, sink: Sink, schema: pa.Schema) -> None:
        super().__init__(sink, schema)
        self._buffer = io.StringIO(newline="")
        # QUOTE_MINIMAL quotes every cell holding a newline, quote or comma (RFC 4180).
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")
        self._lines([schema.names])

    def write(self, rows: list[dict[str, Any]]) -> None:
        names = self.schema.names
        self._lines([csv_cell(row.get(name)) for name in names] for row in rows)
        self.rows += len(rows)

    def _lines(self, rows: Iterable[list[Any]]) -> None:
        # One batch's text at a time, so the buffer never holds more than a batch.
        self._csv.writerows(rows)
        self._text(self._buffer.getvalue())
        self._buffer.seek(0)
        self._buffer.truncate()


class ParquetWriter(RowWriter):
    """One row group per batch, so memory holds one batch whatever the total."""

    def __init__(self, sink: Sink, schema: pa.Schema) -> None:
        super().__init__(sink, schema)
        # Parquet writes forward only (its footer comes last), so any sink can take it.
        self._writer = pq.ParquetWriter(sink, schema, compression="zstd")

    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
            self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()


WRITERS: dict[FileFormat, type[RowWriter]] = {
    FileFormat.JSON: JsonArrayWriter,
    FileFormat.JSONL: JsonlWriter,
    FileFormat.CSV: CsvWriter,
    FileFormat.PARQUET: ParquetWriter,
}


def open_writer(file_format: FileFormat, sink: Sink, schema: pa.Schema) -> RowWriter:
    return WRITERS[file_format](sink, schema)
