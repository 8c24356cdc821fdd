"""LLaMA-Factory's `dataset_info.json`: one entry per exported file, merged with the others."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from distillset.domain import InvalidInputError
from distillset.export.atomic import PendingPath
from distillset.export.formats import ExportFormat, RenderContext

INFO_FILE = "dataset_info.json"


def file_name_in(directory: Path, data_file: Path) -> str:
    """The `file_name` LLaMA-Factory joins to its dataset_dir: relative when inside it."""
    try:
        return data_file.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        return str(data_file.resolve())


def dataset_entry(
    fmt: ExportFormat, ctx: RenderContext, directory: Path, data_file: Path
) -> dict[str, Any]:
    return {"file_name": file_name_in(directory, data_file), **fmt.llamafactory_entry(ctx)}


def read_info(directory: Path) -> dict[str, Any]:
    path = directory / INFO_FILE
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(info, dict):
        raise InvalidInputError(f"{str(path)!r} is not a JSON object")
    return info


def write_info(directory: Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Add or replace entries, keeping every other dataset already registered there."""
    info = read_info(directory)
    info.update(entries)
    pending = PendingPath(directory / INFO_FILE)
    try:
        with pending.temp.open("w", encoding="utf-8") as file:
            json.dump(info, file, ensure_ascii=False, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return pending.final
