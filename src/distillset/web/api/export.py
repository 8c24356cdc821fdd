"""Export: the dataset in a fine-tuning format, downloaded as a streamed file."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from distillset.export import FORMATS, FileFormat
from distillset.web.deps import AppStore
from distillset.web.schemas import RowId
from distillset.web.streaming.download import export_download

router = APIRouter(prefix="/projects/{project_id}/export", tags=["export"])

DownloadFormat = Literal["json", "jsonl", "csv", "parquet"]


@router.get("/formats")
def export_formats(project_id: RowId) -> list[dict[str, Any]]:
    """The formats and the reasoning modes each can hold (the first is its default)."""
    return [
        {"name": name, "reasoning_modes": [mode.value for mode in fmt.modes]}
        for name, fmt in FORMATS.items()
    ]


@router.get("")
async def download_export(
    project_id: RowId,
    store: AppStore,
    format: str = Query(default="alpaca", max_length=50),
    file_format: DownloadFormat = "jsonl",
    reasoning: Literal["inline", "field", "drop"] | None = None,
    confirmed_only: bool = False,
    min_score: float | None = Query(default=None, ge=0, le=5),
    tag_id: RowId | None = None,
    balanced: int | None = Query(default=None, ge=1),
    balanced_by: Literal["tag", "difficulty"] = "tag",
    min_difficulty: int | None = Query(default=None, ge=1, le=10),
    all_samples: bool = False,
    margin: float = Query(default=1.0, gt=0, le=5, description="dpo and ranking: least gap"),
) -> StreamingResponse:
    """The export as a streamed file (as `distillset export` with these options)."""
    return await export_download(
        store,
        project_id,
        export_format=format,
        file_format=FileFormat(file_format),
        reasoning=reasoning,
        confirmed_only=confirmed_only,
        min_score=min_score,
        tag_id=tag_id,
        balanced=balanced,
        min_difficulty=min_difficulty,
        extra={"balanced_by": balanced_by, "all_samples": all_samples, "margin": margin},
    )
