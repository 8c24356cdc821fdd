"""The API docs (Swagger UI) and the favicon, served from the package: nothing from a CDN, so
/docs works offline. Swagger UI is the npm package swagger-ui-dist 5.35.0's bundle and CSS
(Apache-2.0), vendored under static/swagger/ with its licence and notice."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC_URL = "/static"
FAVICON = "favicon.svg"
# Swagger UI would otherwise send the spec to an online validator for its badge.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install_docs(app: FastAPI, static_dir: Path) -> None:
    """`/docs` (with its OAuth2 redirect page) on local assets, and `/favicon.ico` for what
    asks for it there (a JSON reply shown in a tab, say). Build the app with docs_url=None
    and redoc_url=None so FastAPI's CDN-based pages are not also served."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC_URL}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/{FAVICON}",
            oauth2_redirect_url=redirect_url,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(static_dir / FAVICON, media_type="image/svg+xml")
