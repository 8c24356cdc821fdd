"""Dataset files as rows: JSON (an array of objects), JSON lines, CSV, Parquet and Hugging
Face `datasets` directories (save_to_disk).

A file is refused before it is read when it is too large, and while it is read once it holds
too many rows; every row comes with where it is (``line 7``, ``row 3``), so an error can
name it. Parquet needs pyarrow and a directory `datasets` (the `hf` extra): both are imported
only when such a file is read, so listing records never loads them.
"""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from distillset.domain import InvalidInputError

MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_IMPORT_ROWS = 1_000_000
IMPORT_FORMATS = ("json", "jsonl", "csv", "parquet", "hf")
_SUFFIXES = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
HF_HINT = "install distillset[hf] (pip install 'distillset[hf]')"


@dataclass(frozen=True)
class SourceRow:
    """One row of a dataset file and where it is, for error messages."""

    where: str
    values: dict[str, Any]


def _given_format(given: str) -> str:
    chosen = given.strip().lower()
    if chosen not in IMPORT_FORMATS:
        raise InvalidInputError(
            f"unknown file format {given!r}: choose one of {', '.join(IMPORT_FORMATS)}"
        )
    return chosen


def file_format_of(name: str, given: str | None = None) -> str:
    """The type of a file (an upload, say) by the format given or its name's suffix."""
    chosen = _given_format(given) if given is not None else _SUFFIXES.get(suffix_of(name))
    if chosen is None:
        raise InvalidInputError(
            f"cannot tell the file format of {name!r}: use a .json, .jsonl, .csv or "
            ".parquet file, or give the format (json, jsonl, csv, parquet)"
        )
    if chosen == "hf":
        raise InvalidInputError("a datasets directory is read from disk, not sent as a file")
    return chosen


def suffix_of(name: str) -> str:
    """The suffix of a file name (never a path: only the last part counts)."""
    return PurePath(PurePath(name).name).suffix.lower()


def import_format_of(path: Path, given: str | None = None) -> str:
    """The type to read: the one given, else a directory is a `datasets` directory and a
    file is known by its suffix."""
    if given is not None:
        return _given_format(given)
    return "hf" if path.is_dir() else file_format_of(path.name)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size


def check_size(path: Path, limit: int | None = None) -> None:
    """Refuse a file (or directory) larger than the import limit before reading it."""
    limit = MAX_IMPORT_BYTES if limit is None else limit
    try:
        size = _size(path)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > limit:
        raise InvalidInputError(
            f"{path.name} is too large ({size / 1e6:.1f} MB > {limit / 1e6:.0f} MB)"
        )


def read_source_rows(path: Path, file_format: str) -> list[SourceRow]:
    """Every row of the file, refused with the first problem met (and its place)."""
    check_size(path)
    try:
        rows = list(_READERS[file_format](path))
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name} is not UTF-8 text (byte {exc.start})") from exc
    return rows


def _counted(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    for index, row in enumerate(rows):
        if index >= MAX_IMPORT_ROWS:
            raise InvalidInputError(f"the file holds more than {MAX_IMPORT_ROWS:,} rows")
        yield row


def _object(where: str, value: Any) -> SourceRow:
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: a record is a JSON object, not {type(value).__name__}")
    return SourceRow(where, value)


def _json_error(exc: json.JSONDecodeError, where: str = "") -> InvalidInputError:
    place = f"{where}: " if where else ""
    return InvalidInputError(
        f"{place}not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    )


def _read_json(path: Path) -> Iterator[SourceRow]:
    text = path.read_bytes().decode("utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(exc) from None
    if not isinstance(data, list):
        raise InvalidInputError("a JSON dataset file holds an array of records ([{...}, ...])")
    yield from _counted(_object(f"row {n}", item) for n, item in enumerate(data, start=1))


def _read_jsonl(path: Path) -> Iterator[SourceRow]:
    def rows() -> Iterator[SourceRow]:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
                if not line:
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _json_error(exc, f"line {number}") from None
                yield _object(f"line {number}", value)

    yield from _counted(rows())


def _read_csv(path: Path) -> Iterator[SourceRow]:
    # A long answer is one cell: the default limit (128 KiB) would refuse it.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_IMPORT_BYTES))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return
            if len(set(header)) != len(header):
                raise InvalidInputError("the CSV header names a column twice")
            rows = (_csv_row(header, number, cells) for number, cells in enumerate(reader, start=1))
            yield from _counted(rows)
        except csv.Error as exc:
            raise InvalidInputError(f"not valid CSV (line {reader.line_num}: {exc})") from None


def _csv_row(header: list[str], number: int, cells: list[str]) -> SourceRow:
    if len(cells) != len(header):
        raise InvalidInputError(
            f"row {number}: {len(cells)} cells where the header has {len(header)} columns"
        )
    return SourceRow(f"row {number}", dict(zip(header, cells, strict=True)))


def _read_parquet(path: Path) -> Iterator[SourceRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, ValueError) as exc:
        raise InvalidInputError(f"{path.name} is not a Parquet file ({exc})") from None
    if parquet.metadata.num_rows > MAX_IMPORT_ROWS:
        raise InvalidInputError(f"the file holds more than {MAX_IMPORT_ROWS:,} rows")
    number = 0
    for batch in parquet.iter_batches():
        for values in batch.to_pylist():
            number += 1
            yield SourceRow(f"row {number}", values)


def _read_hf(path: Path) -> Iterator[SourceRow]:
    try:
        datasets = importlib.import_module("datasets")
    except ImportError:
        raise InvalidInputError(
            f"reading a datasets directory needs 'datasets': {HF_HINT}"
        ) from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"{path.name} is not a datasets directory ({exc})") from None
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"": loaded}
    if sum(split.num_rows for split in splits.values()) > MAX_IMPORT_ROWS:
        raise InvalidInputError(f"the dataset holds more than {MAX_IMPORT_ROWS:,} rows")
    for name, split in splits.items():
        place = f" of split {name!r}" if name else ""
        for number, values in enumerate(split, start=1):
            yield SourceRow(f"row {number}{place}", dict(values))


_READERS = {
    "json": _read_json,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
    "parquet": _read_parquet,
    "hf": _read_hf,
}


def decoded_list(value: Any) -> Any:
    """A list as a CSV cell holds it (its JSON text), or the value as it is."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
