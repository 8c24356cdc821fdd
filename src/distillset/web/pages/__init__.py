"""Server-rendered pages (Jinja2 + htmx); they call the same services as the API and CLI."""

from __future__ import annotations

from fastapi import FastAPI

from distillset.web.pages import (
    auto,
    conversations,
    projects,
    provider_models,
    quality,
    record,
    review,
    settings,
    tasks,
    usage,
    workbench,
)


def include(app: FastAPI) -> None:
    for module in (
        projects,
        settings,
        provider_models,
        workbench,
        auto,
        review,
        record,
        conversations,
        quality,
        usage,
        tasks,
    ):
        app.include_router(module.router, include_in_schema=False)
