"""REST API routers under /api/v1: thin over the service functions the CLI uses."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from distillset.web.api import (
    conversations,
    dataset,
    dataset_import,
    endpoints,
    export,
    generate,
    projects,
    prompts,
    quality,
    questions,
    record_tokens,
    tags,
    tasks,
    usage,
)

PREFIX = "/api/v1"


def include(app: FastAPI) -> None:
    health = APIRouter(prefix=PREFIX, tags=["health"])

    @health.get("/health")
    def health_check() -> dict[str, str]:
        """A trivial endpoint: liveness, and the baseline of the web benchmark."""
        return {"status": "ok"}

    app.include_router(health)
    for module in (
        projects,
        endpoints,
        prompts,
        tags,
        generate,
        questions,
        dataset,
        conversations,
        record_tokens,
        dataset_import,
        quality,
        tasks,
        export,
        usage,
    ):
        app.include_router(module.router, prefix=PREFIX)
