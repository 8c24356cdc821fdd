"""Web export downloads: rendered while sent by the export writers, equal to an exported file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from distillset import resolve
from distillset.config import Settings
from distillset.export import ExportOptions, FileFormat, export_dataset
from distillset.export import pipeline as export_service
from distillset.projects.lifecycle import get_project
from distillset.review import RecordFilter
from distillset.store import Store
from distillset.web import create_app
from distillset.web.streaming.download import export_download
from helpers import seed_export_dataset

API = "/api/v1"
PER_TAG = 5  # three tags: 15 records
RECORDS = 3 * PER_TAG


@pytest.fixture
def client(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    seed_export_dataset(store, per_tag=PER_TAG)
    # Small batches, so a download (and a file: Parquet row groups follow batches) is made
    # of several.
    real = export_service.iter_records

    def in_fours(*args: Any, **kwargs: Any) -> Iterator[Any]:
        return real(*args, **{**kwargs, "batch_size": 4})

    monkeypatch.setattr(export_service, "iter_records", in_fours)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _exported_file(store: Store, tmp_path: Path, **options: Any) -> bytes:
    """What `distillset export` writes for the same choices."""
    target = tmp_path / f"cli.{options['file_format']}"
    with store.session() as session:
        export_dataset(
            session, get_project(session, "Sports"), ExportOptions(output=target, **options)
        )
    return target.read_bytes()


def _parsed(file_format: str, data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8")
    if file_format == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


@pytest.mark.parametrize(
    ("export_format", "file_format"),
    [
        *(
            (name, kind)
            for name in ("alpaca", "sharegpt", "messages")
            for kind in ("jsonl", "json")
        ),
        ("alpaca", "csv"),
        ("raw", "csv"),  # sharegpt and messages hold turns, which CSV refuses
    ],
)
def test_a_line_format_download_equals_the_exported_file(
    client: TestClient, store: Store, tmp_path: Path, file_format: str, export_format: str
) -> None:
    response = client.get(
        f"{API}/projects/1/export", params={"format": export_format, "file_format": file_format}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="sports-{export_format}.{file_format}"'
    )
    rows = _parsed(file_format, response.content)
    assert len(rows) == RECORDS
    assert response.content == _exported_file(
        store, tmp_path, format=export_format, file_format=file_format
    )


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_filters_and_balance_hold_in_a_streamed_download(
    client: TestClient, store: Store, tmp_path: Path, file_format: str
) -> None:
    balanced = client.get(
        f"{API}/projects/1/export", params={"file_format": file_format, "balanced": 2}
    )
    assert len(_parsed(file_format, balanced.content)) == 6
    assert balanced.content == _exported_file(store, tmp_path, file_format=file_format, balanced=2)
    empty = client.get(
        f"{API}/projects/1/export", params={"file_format": file_format, "min_score": 5}
    )
    assert empty.status_code == 200 and _parsed(file_format, empty.content) == []


@pytest.mark.parametrize("params", [{}, {"balanced": 2, "reasoning": "drop"}])
def test_a_parquet_download_equals_the_exported_file(
    client: TestClient, store: Store, tmp_path: Path, params: dict[str, Any]
) -> None:
    response = client.get(f"{API}/projects/1/export", params={"file_format": "parquet", **params})
    assert response.status_code == 200
    rows = pq.read_table(io.BytesIO(response.content)).num_rows
    assert rows == (6 if params else RECORDS)
    assert response.content == _exported_file(store, tmp_path, file_format="parquet", **params)


def test_a_download_by_tag_id_holds_the_subtree_as_the_exported_file_does(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    with store.session() as session:
        ball_games = resolve.tag_id(session, get_project(session, "Sports"), "Ball games")
    params = {"format": "raw", "file_format": "jsonl", "tag_id": ball_games}
    response = client.get(f"{API}/projects/1/export", params=params)
    assert response.status_code == 200
    rows = _parsed("jsonl", response.content)
    assert len(rows) == 2 * PER_TAG
    assert {row["tag_path"] for row in rows} == {"Ball games > Football", "Ball games > Tennis"}
    assert response.content == _exported_file(
        store,
        tmp_path,
        format="raw",
        file_format="jsonl",
        record_filter=RecordFilter(tag_id=ball_games),
    )


def test_bad_choices_are_refused_before_any_byte(client: TestClient) -> None:
    base = f"{API}/projects/1/export"
    assert client.get(base, params={"tag_id": 999}).status_code == 404
    refused = client.get(base, params={"format": "trl", "reasoning": "nope"})
    assert refused.status_code == 422
    assert client.get(f"{API}/projects/99/export").status_code == 404


@pytest.mark.parametrize("file_format", [FileFormat.JSONL, FileFormat.PARQUET])
def test_the_first_rows_leave_before_the_rest_is_read(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch, file_format: FileFormat
) -> None:
    read: list[int] = []
    real = export_service.iter_records  # in batches of four (the client fixture)

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for batch in real(*args, **kwargs):
            read.append(len(batch))
            yield batch

    monkeypatch.setattr(export_service, "iter_records", counted)

    async def first_chunk() -> bytes:
        response = await export_download(store, 1, export_format="alpaca", file_format=file_format)
        chunks = response.body_iterator
        received = await anext(chunks)
        await chunks.aclose()
        assert isinstance(received, bytes)
        return received

    first_batch = asyncio.run(first_chunk())
    if file_format is FileFormat.JSONL:
        assert len(first_batch.splitlines()) == 4
    else:
        assert first_batch.startswith(b"PAR1")  # a row group is sent before the footer
    assert read == [4]  # one batch of 15 records was read, not the whole dataset
