"""Pages: the export form with every option of `distillset export` that fits a browser.

One file (no split) streams as it is written. A held-out split (two files), a Hugging Face
datasets directory or a LLaMA-Factory data directory (the file and its dataset_info.json)
are written by the same export pipeline into a temporary directory and sent as one zip.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from distillset.domain import DistillsetError, NotFoundError
from distillset.export import (
    CUSTOM_FIELDS,
    DEFAULT_THINK_CLOSE,
    DEFAULT_THINK_OPEN,
    FORMATS,
    ExportOptions,
    FileFormat,
    export_dataset,
    slug,
)
from distillset.projects import project_stats
from distillset.review import count_records
from distillset.store import Store
from distillset.web.api._record_filters import record_filter
from distillset.web.deps import AppStore, DbSession, project_by_id
from distillset.web.errors import status_for
from distillset.web.pages.common import render
from distillset.web.pages.forms import optional_number
from distillset.web.pages.review import tag_id_of
from distillset.web.schemas import RowId
from distillset.web.streaming.download import export_download

router = APIRouter(prefix="/projects/{project_id}")

PACKAGES = ("file", "zip", "llamafactory")


def _typed(text: str) -> str:
    r"""Delimiters typed in a field: `\n` and `\t` mean a newline and a tab (as on the CLI)."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _shown(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t")


@dataclass
class ExportForm:
    """The export form's fields as typed (a GET, so the browser saves what comes back)."""

    format: str = Query(default="alpaca", max_length=50)
    file_format: str = Query(default="jsonl", pattern="^(json|jsonl|csv|parquet|hf)$")
    package: str = Query(default="file", pattern="^(file|zip|llamafactory)$")
    reasoning: str = Query(default="", pattern="^(inline|field|drop|)$")
    think_open: str = Query(default=_shown(DEFAULT_THINK_OPEN), max_length=200)
    think_close: str = Query(default=_shown(DEFAULT_THINK_CLOSE), max_length=200)
    system: str = Query(default="", max_length=20_000)
    tag: str = Query(default="", max_length=5000)
    min_score: str = Query(default="", max_length=10)
    balanced: str = Query(default="", max_length=10)
    balanced_by: str = Query(default="tag", pattern="^(tag|difficulty)$")
    min_difficulty: str = Query(default="", max_length=10)
    all_samples: bool = False
    margin: str = Query(default="1", max_length=10)
    confirmed_only: bool = False
    split: str = Query(default="", max_length=50)
    seed: str = Query(default="42", max_length=10)
    dataset_name: str = Query(default="", max_length=200)
    field_id: str = Query(default="", max_length=100)
    field_tag_path: str = Query(default="", max_length=100)
    field_question: str = Query(default="", max_length=100)
    field_reasoning: str = Query(default="", max_length=100)
    field_answer: str = Query(default="", max_length=100)

    def fields(self) -> dict[str, str]:
        typed = {part: getattr(self, f"field_{part}").strip() for part in CUSTOM_FIELDS}
        return {part: name for part, name in typed.items() if name}

    def extra(self) -> dict[str, Any]:
        """The options a streamed file takes besides the filter."""
        return {
            "think_open": _typed(self.think_open),
            "think_close": _typed(self.think_close),
            "system": self.system.strip() or None,
            "fields": self.fields(),
            "balanced_by": self.balanced_by,
            "all_samples": self.all_samples,
            "margin": _margin(self.margin),
        }


def _margin(text: str) -> float:
    """The typed margin of the preference formats (blank: the CLI's default, 1)."""
    value = optional_number("margin", text, float)
    return 1.0 if value is None else value


def _export_page(
    request: Request,
    session: Session,
    project_id: int,
    values: ExportForm | None = None,
    refusal: DistillsetError | None = None,
) -> Response:
    """The export form; a refused download comes back with what was chosen and the reason
    beside it (no record matched, an unknown tag, a score out of range)."""
    project = project_by_id(session, project_id)
    formats = [
        {"name": name, "modes": [mode.value for mode in fmt.modes]} for name, fmt in FORMATS.items()
    ]
    return render(
        request,
        "export.html",
        status_code=status_for(refusal) if refusal else 200,
        project=project,
        active="export",
        formats=formats,
        custom_fields=CUSTOM_FIELDS,
        stats=project_stats(session, project.id),
        values=asdict(values or ExportForm(**_defaults())),
        form_error=str(refusal) if refusal else None,
    )


def _defaults() -> dict[str, Any]:
    """The form's defaults as plain values (its fields' defaults are Query markers)."""
    return {
        "think_open": _shown(DEFAULT_THINK_OPEN),
        "think_close": _shown(DEFAULT_THINK_CLOSE),
        "seed": "42",
        "format": "alpaca",
        "file_format": "jsonl",
        "package": "file",
        "balanced_by": "tag",
        "margin": "1",
        "all_samples": False,
        **{
            name: ""
            for name in (
                "reasoning",
                "system",
                "tag",
                "min_score",
                "balanced",
                "min_difficulty",
                "split",
                "dataset_name",
                *(f"field_{part}" for part in CUSTOM_FIELDS),
            )
        },  # fmt: skip
        "confirmed_only": False,
    }


@router.get("/export")
def export_page(project_id: RowId, request: Request, session: DbSession) -> Response:
    return _export_page(request, session, project_id)


@router.get("/export/file")
async def export_file(
    project_id: RowId,
    request: Request,
    store: AppStore,
    form: ExportForm = Depends(),  # noqa: B008
) -> Response:
    """The export form's download: one streamed file, or a zip of what the pipeline wrote."""
    try:
        if form.package == "file" and not form.split.strip():
            with store.session() as session:
                tag_id = tag_id_of(session, project_by_id(session, project_id), form.tag)
            return await export_download(
                store,
                project_id,
                export_format=form.format,
                file_format=FileFormat(form.file_format),
                reasoning=form.reasoning or None,
                confirmed_only=form.confirmed_only,
                min_score=optional_number("min score", form.min_score, float),
                tag_id=tag_id,
                balanced=optional_number("at most per tag", form.balanced, int),
                min_difficulty=optional_number("min difficulty", form.min_difficulty, int),
                refuse_empty=True,
                extra=form.extra(),
            )
        return await asyncio.to_thread(_zipped_export, store, project_id, form)
    except DistillsetError as refusal:
        with store.session() as session:
            return _export_page(request, session, project_id, form, refusal)


def _zipped_export(store: Store, project_id: int, form: ExportForm) -> Response:
    """Export into a temporary directory as the CLI would write it, then zip it."""
    work = Path(tempfile.mkdtemp(prefix="distillset-web-export-"))
    try:
        with store.session() as session:
            project = project_by_id(session, project_id)
            options = _options(session, project_id, form)
            if not count_records(session, project, options.record_filter):
                raise NotFoundError("no record matched the filters: there is nothing to download")
            name = f"{slug(project.name)}-{form.format}"
            target = work / "export"
            target.mkdir()
            if form.package == "llamafactory":
                options = replace(options, llamafactory_dir=target)
            else:
                suffix = "" if form.file_format == "hf" else f".{form.file_format}"
                options = replace(options, output=target / f"{name}{suffix}")
            export_dataset(session, project, options)
        archive = work / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(target))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=archive.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _options(session: Session, project_id: int, form: ExportForm) -> ExportOptions:
    project = project_by_id(session, project_id)
    seed = optional_number("seed", form.seed, int)
    flt = record_filter(
        session,
        project,
        tag_id=tag_id_of(session, project, form.tag),
        confirmed=True if form.confirmed_only else None,
        min_score=optional_number("min score", form.min_score, float),
        min_difficulty=optional_number("min difficulty", form.min_difficulty, int),
    )
    return ExportOptions(
        format=form.format,
        file_format=form.file_format,
        reasoning=form.reasoning or None,
        record_filter=flt,
        balanced=optional_number("at most per tag", form.balanced, int),
        split=form.split.strip() or None,
        seed=42 if seed is None else seed,
        dataset_name=form.dataset_name.strip() or None,
        **form.extra(),
    )
