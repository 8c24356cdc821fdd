"""The app factory: one store, one task runner and one token guard per app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from distillset.config import Settings
from distillset.store import open_store
from distillset.web import api, pages
from distillset.web.errors import install_error_handlers
from distillset.web.pages.docs import install_docs
from distillset.web.runner import TaskRunner
from distillset.web.security import install_security

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings, *, token: str | None = None) -> FastAPI:
    """Build the app; ``token`` (or settings.token) makes every request need it."""
    store = open_store(settings)
    runner = TaskRunner(store, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runner.shutdown()
            store.close()

    app = FastAPI(
        title="distillset",
        version="0.1.0",
        description="Distilled datasets: tag trees, questions and reasoned answers.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from the package's own assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.runner = runner
    install_security(app, token or settings.token)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_docs(app, STATIC_DIR)
    api.include(app)
    pages.include(app)
    return app
