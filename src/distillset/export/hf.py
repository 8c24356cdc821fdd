"""Hugging Face: `datasets` directories (save_to_disk), and pushing to the Hub with a card.

The libraries come with the `hf` extra and are imported only when asked for.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from distillset.domain import InvalidInputError

HF_HINT = "install distillset[hf] (pip install 'distillset[hf]')"
CARD_TOP_TAGS = 30


def require(module: str) -> Any:
    """Import an optional Hugging Face library, or explain how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InvalidInputError(f"this export needs the {module!r} package: {HF_HINT}") from None


class _QuietProgress:
    """`datasets`' progress bars off while an export builds its directory: the export is one
    step with its own output. The switch is global to the process, so it is put back as it was
    found when the last export using it ends (exports may run in parallel threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._turn_back_on = False

    @contextmanager
    def __call__(self, datasets: Any) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._turn_back_on = not datasets.are_progress_bars_disabled()
                datasets.disable_progress_bars()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._turn_back_on:
                    datasets.enable_progress_bars()


_quiet_progress = _QuietProgress()


def save_to_disk(parquet_files: dict[str, Path], target: Path, cache_dir: Path) -> None:
    """Turn split Parquet files into a DatasetDict directory that `load_from_disk` reads."""
    datasets = require("datasets")
    with _quiet_progress(datasets):
        splits = {
            name: datasets.Dataset.from_parquet(str(path), cache_dir=str(cache_dir))
            for name, path in parquet_files.items()
        }
        datasets.DatasetDict(splits).save_to_disk(str(target))


def card_text(
    *,
    repo: str,
    splits: dict[str, int],
    tags: dict[str, int],
    models: dict[str, int],
    settings: dict[str, Any],
    language: str,
) -> str:
    """A dataset card: YAML metadata the Hub reads (configs, splits), then a summary."""
    metadata = {
        "language": [language],
        "task_categories": ["text-generation", "question-answering"],
        "tags": ["distillation", "reasoning", "synthetic", "distillset"],
        "size_categories": [_size_category(sum(splits.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": name, "path": f"data/{name}-*.parquet"} for name in splits
                ],
            }
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {repo.split('/')[-1]}",
        "",
        "A distilled dataset: questions over a domain tree, answered by a teacher model "
        "with its reasoning. Built with distillset.",
        "",
        "## Counts",
        "",
        "| split | records |",
        "|---|---|",
        *[f"| {name} | {count} |" for name, count in splits.items()],
        "",
        "## Tag distribution",
        "",
        "| tag | records |",
        "|---|---|",
        *[
            f"| {_cell(tag or '(none)')} | {count} |"
            for tag, count in sorted(tags.items(), key=lambda item: (-item[1], item[0]))[
                :CARD_TOP_TAGS
            ]
        ],
    ]
    if len(tags) > CARD_TOP_TAGS:
        lines.append(f"\n({len(tags) - CARD_TOP_TAGS} more tags not shown)")
    lines += ["", "## Models used", "", "| model | records |", "|---|---|"]
    lines += [f"| {_cell(model or '(unknown)')} | {count} |" for model, count in models.items()]
    lines += ["", "## Generation settings", "", "```yaml"]
    lines += [yaml.safe_dump(settings, allow_unicode=True, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _size_category(count: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if count < limit:
            return name
    return "n>10M"


def push_folder(
    folder: Path, repo: str, *, private: bool, token: str | None, api: Any | None = None
) -> str:
    """Create the dataset repo if needed and upload the folder (data/*.parquet + README.md).

    ``api`` is an ``HfApi``-like object; by default a real one (HF_TOKEN / HF_ENDPOINT apply).
    Returns the commit URL the Hub reports.
    """
    if api is None:
        hub = require("huggingface_hub")
        api = hub.HfApi(token=token)
    api.create_repo(repo_id=repo, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo,
        repo_type="dataset",
        commit_message="Upload dataset exported by distillset",
        delete_patterns=["data/*.parquet"],
    )
    return str(getattr(info, "commit_url", info))
