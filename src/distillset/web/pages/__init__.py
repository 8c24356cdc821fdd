"""Server-rendered pages (Jinja2 + htmx); they call the same services as the API and CLI."""

from __future__ import annotations

from fastapi import FastAPI

from distillset.web.pages import (
    auto,
    conversations,
    projects,
    quality,
    review,
    settings,
    tasks,
    workbench,
)


def include(app: FastAPI) -> None:
    for module in (projects, settings, workbench, auto, review, conversations, quality, tasks):
        app.include_router(module.router, include_in_schema=False)
