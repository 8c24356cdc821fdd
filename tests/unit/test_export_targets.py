"""Held-out splits, LLaMA-Factory registration and Hugging Face datasets / Hub exports."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from distillset import resolve
from distillset.export import ExportOptions, export_dataset
from distillset.export.selection import StratifiedSplit
from distillset.review import RecordFilter
from distillset.store import Project, Store
from helpers import read_jsonl, seed_export_dataset


@pytest.fixture
def project(store: Store) -> Project:
    return seed_export_dataset(store, per_tag=40)


def run_export(store: Store, project: Project, **options: Any) -> Any:
    with store.session() as session:
        return export_dataset(session, project, ExportOptions(**options))


def test_split_is_stratified_by_tag_and_repeatable(
    store: Store, project: Project, tmp_path: Path
) -> None:
    result = run_export(store, project, format="raw", output=tmp_path / "d.jsonl", split="eval=0.1")
    train = read_jsonl(tmp_path / "d.jsonl")
    held = read_jsonl(tmp_path / "d.eval.jsonl")
    assert result.split_records == {"train": 108, "eval": 12}
    assert Counter(row["tag_path"] for row in held) == {
        "Ball games > Football": 4,
        "Ball games > Tennis": 4,
        "Running": 4,
    }
    assert not {row["id"] for row in train} & {row["id"] for row in held}
    again = run_export(store, project, format="raw", output=tmp_path / "e.jsonl", split="eval=0.1")
    assert again.split_records == result.split_records
    assert read_jsonl(tmp_path / "e.eval.jsonl") == held
    other_seed = run_export(
        store, project, format="raw", output=tmp_path / "f.jsonl", split="eval=0.1", seed=7
    )
    assert other_seed.split_records["eval"] == 12


def test_split_share_holds_per_tag_within_one_record() -> None:
    split = StratifiedSplit(0.05, seed=3)
    sizes = {tag: 7 + tag * 13 for tag in range(30)}
    held = Counter(tag for tag, size in sizes.items() for _ in range(size) if split.held_out(tag))
    for tag, size in sizes.items():
        assert abs(held[tag] - size * 0.05) <= 1


def test_llamafactory_entries_match_the_files(
    store: Store, project: Project, tmp_path: Path
) -> None:
    lf = tmp_path / "data"
    lf.mkdir()
    (lf / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "x.json"}}))
    run_export(store, project, format="alpaca", llamafactory_dir=lf, split="eval=0.05")
    run_export(
        store,
        project,
        format="sharegpt",
        output=lf / "chat.jsonl",
        llamafactory_dir=lf,
        dataset_name="sports_chat",
    )
    run_export(
        store,
        project,
        format="messages",
        output=lf / "oa.parquet",
        llamafactory_dir=lf,
        dataset_name="sports_openai",
    )
    info = json.loads((lf / "dataset_info.json").read_text())
    assert set(info) == {"other", "sports", "sports_eval", "sports_chat", "sports_openai"}
    for name in ("sports", "sports_eval", "sports_chat", "sports_openai"):
        entry = info[name]
        path = lf / entry["file_name"]
        rows = (
            pq.read_table(path).to_pylist()
            if path.suffix == ".parquet"
            else json.loads(path.read_text())
            if path.suffix == ".json"
            else read_jsonl(path)
        )
        assert rows
        columns = entry["columns"]
        for row in rows:
            assert set(columns.values()) <= set(row)
        if entry["formatting"] == "alpaca":
            assert columns["prompt"] == "instruction" and columns["response"] == "output"
        else:
            tags = entry["tags"]
            turns = rows[0][columns["messages"]]
            roles = [turn[tags["role_tag"]] for turn in turns]
            assert tags["user_tag"] in roles and roles[-1] == tags["assistant_tag"]
            assert all(isinstance(turn[tags["content_tag"]], str) for turn in turns)
            if "system_tag" in tags:
                assert roles[0] == tags["system_tag"]
    assert info["sports"]["file_name"] == "sports.json"
    assert info["sports_eval"]["file_name"] == "sports.eval.json"


def test_hf_save_to_disk_round_trip(store: Store, project: Project, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    target = tmp_path / "hfset"
    result = run_export(
        store, project, format="messages", output=target, file_format="hf", split="eval=0.1"
    )
    loaded = datasets.load_from_disk(str(target))
    assert set(loaded) == {"train", "eval"}
    assert loaded["train"].num_rows == result.split_records["train"] == 108
    assert loaded["eval"].num_rows == 12
    assert loaded["train"][0]["messages"][1]["role"] == "user"
    # Exporting again replaces the directory as a whole.
    run_export(store, project, format="messages", output=target, file_format="hf")
    assert set(datasets.load_from_disk(str(target))) == {"train"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hfset", "home"]


def test_hf_export_prints_no_progress_bars_and_leaves_them_as_found(
    store: Store, project: Project, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    datasets = pytest.importorskip("datasets")
    assert not datasets.are_progress_bars_disabled()
    run_export(store, project, format="messages", output=tmp_path / "hfset", file_format="hf")
    assert capfd.readouterr().err == ""
    # The switch is the process's: a notebook loading a dataset afterwards still sees its bars.
    assert not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        run_export(store, project, format="messages", output=tmp_path / "again", file_format="hf")
        assert datasets.are_progress_bars_disabled()
    finally:
        datasets.enable_progress_bars()


class FakeHubApi:
    """Stands in for huggingface_hub.HfApi at its network boundary; keeps what it is sent."""

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, **kwargs: Any) -> None:
        self.calls.append(("create_repo", kwargs))

    def upload_folder(self, **kwargs: Any) -> str:
        self.calls.append(("upload_folder", kwargs))
        source = Path(kwargs["folder_path"])
        for path in source.rglob("*"):
            if path.is_file():
                copy = self.keep / path.relative_to(source)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(path.read_bytes())
        return "https://hub.example/commit/1"


def test_push_to_hub_uploads_parquet_and_a_card(
    store: Store, project: Project, tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    api = FakeHubApi(tmp_path / "uploaded")
    with store.session() as session:
        result = export_dataset(
            session,
            project,
            ExportOptions(format="sharegpt", push_to_hub="me/sports", split="eval=0.1"),
            hub_api=api,
        )
    assert result.hub_url == "https://hub.example/commit/1"
    assert [name for name, _ in api.calls] == ["create_repo", "upload_folder"]
    assert api.calls[0][1]["repo_id"] == "me/sports" and api.calls[0][1]["repo_type"] == "dataset"
    card = (tmp_path / "uploaded" / "README.md").read_text()
    assert "| train | 108 |" in card and "| eval | 12 |" in card
    assert "| Ball games > Football | 40 |" in card and "teacher-a" in card
    assert "Be precise." in card
    # The card's YAML configs point at the uploaded files; the datasets loader reads them.
    metadata = card.split("---")[1]
    assert "data/train-*.parquet" in metadata
    loaded = datasets.load_dataset(
        "parquet",
        data_files={
            "train": str(tmp_path / "uploaded" / "data" / "train-*.parquet"),
            "eval": str(tmp_path / "uploaded" / "data" / "eval-*.parquet"),
        },
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded["train"].num_rows == 108 and loaded["eval"].num_rows == 12


def test_the_card_shows_the_filter_tag_by_id_and_path(
    store: Store, project: Project, tmp_path: Path
) -> None:
    api = FakeHubApi(tmp_path / "uploaded")
    with store.session() as session:
        ball_games = resolve.tag_id(session, project, "Ball games")
        result = export_dataset(
            session,
            project,
            ExportOptions(
                format="alpaca",
                push_to_hub="me/ball-games",
                record_filter=RecordFilter(tag_id=ball_games, has_reasoning=True),
            ),
            hub_api=api,
        )
    assert result.records == 2 * 39  # the subtree's two tags; record 0 of each has no reasoning
    card = (tmp_path / "uploaded" / "README.md").read_text()
    settings = yaml.safe_load(card.split("## Generation settings")[1].split("```")[1][4:])
    assert settings["export"]["filter"] == {
        "tag_id": ball_games,
        "has_reasoning": True,
        "tag": "Ball games",
    }


def test_every_format_loads_with_the_datasets_readers(
    store: Store, project: Project, tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    for name in ("alpaca", "sharegpt", "messages", "trl", "axolotl", "harmony", "custom", "raw"):
        for suffix, builder in (("jsonl", "json"), ("parquet", "parquet")):
            path = tmp_path / f"{name}.{suffix}"
            run_export(store, project, format=name, output=path)
            loaded = datasets.load_dataset(
                builder,
                data_files=str(path),
                split="train",
                cache_dir=str(tmp_path / "cache"),
            )
            assert loaded.num_rows == 120, (name, suffix)
    axolotl = datasets.load_dataset(
        "json",
        data_files=str(tmp_path / "axolotl.jsonl"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assistant = axolotl[1]["messages"][-1]
    assert assistant["role"] == "assistant" and assistant["reasoning_content"].startswith("Reason")
