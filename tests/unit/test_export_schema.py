"""Every format has one declared schema that every file type follows, and CSV holds only the
flat ones: a JSONL and a Parquet export of the same choices load with `datasets` and
concatenate, whatever the format, the reasoning mode and the records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.export import FORMATS, ExportOptions, export_dataset
from distillset.projects.lifecycle import get_project
from distillset.store import Store
from distillset.web import create_app
from helpers import read_jsonl, seed_export_dataset

# Preference formats export pairs of samples, which this dataset has none of
# (tests/integration/test_sample_selection.py loads them).
CHOICES = [
    (name, mode.value) for name, fmt in FORMATS.items() for mode in fmt.modes if not fmt.pairs
]
FLAT = ["alpaca", "custom", "raw"]
# The columns of turns each other format has.
NESTED = {
    "axolotl": "messages",
    "harmony": "messages",
    "messages": "messages",
    "sharegpt": "conversations",
    "trl": "prompt, completion",
}


def _export(store: Store, output: Path, name: str, mode: str) -> None:
    fields = {"question": "prompt"} if name == "custom" else {}
    options = ExportOptions(format=name, reasoning=mode, output=output, fields=fields)
    with store.session() as session:
        export_dataset(session, get_project(session, "Sports"), options)


@pytest.mark.parametrize("with_reasoning", [True, False], ids=["some-reasoning", "none"])
@pytest.mark.parametrize(("name", "mode"), CHOICES)
def test_jsonl_json_and_parquet_of_one_export_load_and_concatenate(
    store: Store, tmp_path: Path, name: str, mode: str, with_reasoning: bool
) -> None:
    datasets = pytest.importorskip("datasets")
    # per_tag=1 keeps only the records without reasoning: every reasoning value missing.
    seed_export_dataset(store, per_tag=4 if with_reasoning else 1)
    paths = {suffix: tmp_path / f"{name}.{suffix}" for suffix in ("jsonl", "json", "parquet")}
    for path in paths.values():
        _export(store, path, name, mode)

    loaded = {
        suffix: datasets.load_dataset(
            "parquet" if suffix == "parquet" else "json",
            data_files=str(path),
            split="train",
            cache_dir=str(tmp_path / "cache"),
        )
        for suffix, path in paths.items()
    }
    joined = datasets.concatenate_datasets(list(loaded.values()))

    assert len(joined) == 3 * len(loaded["parquet"])
    # JSON cannot type a column that is null or an empty list in every row (`datasets` reads
    # it as null and aligns it); every other column, nested fields included, has the Parquet
    # schema's type.
    assert joined.features == loaded["parquet"].features
    untyped = (datasets.Value("null"), datasets.List(datasets.Value("null")))
    for suffix in ("jsonl", "json"):
        features = loaded[suffix].features
        typed = {key: kind for key, kind in features.items() if kind not in untyped}
        assert typed == {key: loaded["parquet"].features[key] for key in typed}, suffix
    # The same rows in each file type, to the key and the null.
    rows = pq.read_table(paths["parquet"]).to_pylist()
    assert read_jsonl(paths["jsonl"]) == rows
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == rows


@pytest.mark.parametrize("name", sorted(NESTED))
def test_csv_refuses_a_format_of_nested_turns_and_names_the_flat_ones(
    store: Store, tmp_path: Path, name: str
) -> None:
    seed_export_dataset(store)
    fmt = FORMATS[name]
    folder = tmp_path / "out"
    folder.mkdir()

    with pytest.raises(InvalidInputError) as refused:
        _export(store, folder / "out.csv", name, fmt.modes[0].value)

    assert str(refused.value) == (
        f"a CSV file cannot hold the {name!r} format: its {NESTED[name]} column holds "
        "nested records; write .jsonl, .json or .parquet, or choose a format CSV can hold: "
        "alpaca, custom, raw, ranking"
    )
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", FLAT)
def test_csv_holds_the_flat_formats(store: Store, tmp_path: Path, name: str) -> None:
    seed_export_dataset(store)
    _export(store, tmp_path / "out.csv", name, FORMATS[name].modes[0].value)
    assert len((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()) > 12


def test_cli_and_web_refuse_nested_csv_in_one_line(
    store: Store, settings: Settings, tmp_path: Path, cli: Callable[..., Result]
) -> None:
    seed_export_dataset(store)
    done = cli("export", "Sports", "--format", "sharegpt", "--output", str(tmp_path / "s.csv"))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        reply = client.get(
            "/api/v1/projects/1/export", params={"format": "messages", "file_format": "csv"}
        )

    assert done.exit_code == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: a CSV file cannot hold the 'sharegpt' format")
    assert reply.status_code == 422
    detail: Any = reply.json()["detail"]
    assert detail.startswith("a CSV file cannot hold the 'messages' format")
    assert not (tmp_path / "s.csv").exists()
