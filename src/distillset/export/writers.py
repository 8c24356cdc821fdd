"""Row writers for JSON (one array), JSONL, CSV and Parquet, fed one batch at a time."""

from __future__ import annotations

import csv
import json
from abc import ABC, abstractmethod
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

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
    """One row as the JSON and JSONL files hold it (also a web download's lines)."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


class RowWriter(ABC):
    """Writes rows of one schema to a path; ``close`` finishes the file."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0

    @abstractmethod
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class _TextWriter(RowWriter):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")

    def close(self) -> None:
        self._file.close()


class JsonlWriter(_TextWriter):
    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._file.write("\n".join(json_row(row) for row in rows) + "\n")
            self.rows += len(rows)


class JsonArrayWriter(_TextWriter):
    """A valid JSON array written element by element, never held whole."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        self._file.write("[")

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        lead = ",\n" if self.rows else "\n"
        self._file.write(lead + ",\n".join(json_row(row) for row in rows))
        self.rows += len(rows)

    def close(self) -> None:
        self._file.write("\n]\n" if self.rows else "]\n")
        super().close()


def csv_cell(value: Any) -> Any:
    """A value as a CSV file's cell holds it (also a web download's cells)."""
    # Nested values (message lists, labels) become their JSON text; None an empty cell.
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


class CsvWriter(_TextWriter):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        # QUOTE_MINIMAL quotes every cell holding a newline, quote or comma (RFC 4180).
        self._csv = csv.writer(self._file, lineterminator="\r\n")
        self._csv.writerow(schema.names)

    def write(self, rows: list[dict[str, Any]]) -> None:
        names = self.schema.names
        self._csv.writerows([csv_cell(row.get(name)) for name in names] for row in rows)
        self.rows += len(rows)


class ParquetWriter(RowWriter):
    """One row group per batch, so memory holds one batch whatever the total."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        super().__init__(path, schema)
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

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


def open_writer(file_format: FileFormat, path: Path, schema: pa.Schema) -> RowWriter:
    return WRITERS[file_format](path, schema)
