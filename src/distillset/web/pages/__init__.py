"""Server-rendered pages (Jinja2 + htmx); they call the same services as the API and CLI."""

from __future__ import annotations

from fastapi import FastAPI

from distillset.web.pages import (
    auto,
    dataset_review,
    export_page,
    projects,
    quality,
    questions_manage,
    review,
    settings,
    tasks,
    workbench,
)


def include(app: FastAPI) -> None:
    # Fixed paths (/dataset/bulk) before the review pages' /dataset/{record_id}.
    for module in (
        projects,
        settings,
        workbench,
        auto,
        dataset_review,
        questions_manage,
        review,
        export_page,
        quality,
        tasks,
    ):
        app.include_router(module.router, include_in_schema=False)
