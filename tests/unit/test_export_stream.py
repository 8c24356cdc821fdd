"""stream_export: an export as byte chunks, by the very writers of export_dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distillset.domain import InvalidInputError
from distillset.export import ExportOptions, export_dataset, stream_export
from distillset.projects.lifecycle import get_project
from distillset.store import Store
from helpers import seed_export_dataset


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv", "parquet"])
@pytest.mark.parametrize("options", [{}, {"balanced": 1, "batch_size": 2}])
def test_the_stream_holds_the_exported_file_batch_by_batch(
    store: Store, tmp_path: Path, file_format: str, options: dict[str, Any]
) -> None:
    seed_export_dataset(store, per_tag=3)
    target = tmp_path / f"data.{file_format}"
    with store.session() as session:
        project = get_project(session, "Sports")
        export_dataset(
            session,
            project,
            ExportOptions(format="alpaca", output=target, file_format=file_format, **options),
        )
        chunks = list(
            stream_export(
                session, project, ExportOptions(format="alpaca", file_format=file_format, **options)
            )
        )
    assert b"".join(chunks) == target.read_bytes()
    if options.get("batch_size") == 2 and file_format != "parquet":
        # 9 records in batches of two, one per tag kept: each batch's rows leave on their own.
        assert len(chunks) > 2


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"split": "eval=0.2"}, "one file"),
        ({"push_to_hub": "me/data"}, "one file"),
        ({"file_format": "hf"}, "cannot be streamed"),
        ({"format": "nope"}, "nope"),
    ],
)
def test_what_a_stream_cannot_be_is_refused_before_a_byte(
    store: Store, choice: dict[str, Any], message: str
) -> None:
    seed_export_dataset(store, per_tag=1)
    with store.session() as session:
        project = get_project(session, "Sports")
        options = ExportOptions(**{"file_format": "jsonl", **choice})
        with pytest.raises(InvalidInputError, match=message):
            stream_export(session, project, options)  # refused on the call, not on reading
