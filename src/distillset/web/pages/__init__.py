"""Server-rendered pages (Jinja2 + htmx); they call the same services as the API and CLI."""

from __future__ import annotations

from fastapi import FastAPI

from distillset.web.pages import (
    auto,
    conversations,
    dataset_review,
    export_page,
    projects,
    provider_models,
    quality,
    questions_manage,
    record,
    review,
    settings,
    tasks,
    usage,
    workbench,
)


def include(app: FastAPI) -> None:
    # Fixed paths (/dataset/bulk) before the record pages' /dataset/{record_id}.
    for module in (
        projects,
        settings,
        provider_models,
        workbench,
        auto,
        dataset_review,
        questions_manage,
        review,
        record,
        conversations,
        export_page,
        quality,
        usage,
        tasks,
    ):
        app.include_router(module.router, include_in_schema=False)
