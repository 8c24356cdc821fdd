"""One place that turns errors into responses: JSON for the API, messages for pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from distillset.domain import (
    ConflictError,
    DistillsetError,
    InvalidInputError,
    ModelCallError,
    NotFoundError,
    SettingRequired,
    unstorable_reason,
    unstorable_text_message,
)
from distillset.web.pages.templating import templates

log = logging.getLogger(__name__)


def status_for(exc: DistillsetError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InvalidInputError):
        return 422
    if isinstance(exc, ModelCallError):
        return 502
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


# What a page's user does about a refusal a project setting fixes: the settings field, linked.
SETTING_FIXES = {
    "question_model": "Choose the question model in Settings",
    "answer_model": "Choose the answer model in Settings",
    "topic": "Change the topic in Settings",
}
BATCH_FIELD = "batch_discount-"


def setting_fix(request: Request, exc: SettingRequired) -> tuple[str, dict[str, str]] | None:
    """The refusal's reason and a link to the settings field that fixes it (the web user is
    never sent to the command line); None outside a project's pages."""
    project_id = request.path_params.get("project_id")
    text = SETTING_FIXES.get(exc.setting)
    if exc.setting.startswith(BATCH_FIELD):  # an endpoint's field (web.api._batch)
        text = "Set up the endpoint for batches in Settings"
    if project_id is None or text is None:
        return None
    href = f"/projects/{int(project_id)}/settings#{exc.setting}"
    return f"{exc.reason}.", {"href": href, "text": text}


def error_response(
    request: Request, status: int, detail: object, fix: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status)
    message = detail if isinstance(detail, str) else _validation_text(detail)
    if request.headers.get("hx-request"):
        # app.js shows the message beside the control that sent the request (in its dialog
        # when one is open); the page's message area is where htmx alone would put it.
        response = templates.TemplateResponse(
            request,
            "_message.html",
            {"message": message, "level": "error", "fix": fix},
            status_code=status,
        )
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    # Not `message`: base.html shows that in the message area, and the page says it once.
    return templates.TemplateResponse(
        request, "error.html", {"error": message, "status": status, "fix": fix}, status_code=status
    )


def _validation_text(detail: object) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(
                    str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")
                )
                parts.append(f"{where}: {item.get('msg', '')}".strip(": "))
        return "; ".join(parts) or "invalid input"
    return str(detail)


def _unstorable_in_url(request: Request) -> str | None:
    """Why the path or a query parameter holds text no value may hold (NUL, ESC...): refused
    the same on every database (PostgreSQL would fail on NUL in a search or a lookup)."""
    reason = unstorable_reason(request.scope.get("path", ""))
    if reason is not None:
        return f"invalid path: {reason}"
    for name, value in request.query_params.multi_items():
        reason = unstorable_reason(name) or unstorable_reason(value)
        if reason is not None:
            return f"invalid query parameter {name!r}: {reason}"
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def refuse_unstorable_url(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        problem = _unstorable_in_url(request)
        if problem is not None:
            return error_response(request, 422, problem)
        return await call_next(request)

    @app.exception_handler(DistillsetError)
    async def domain_error(request: Request, exc: DistillsetError) -> Response:
        if isinstance(exc, SettingRequired) and not wants_json(request):
            fixed = setting_fix(request, exc)
            if fixed is not None:
                return error_response(request, status_for(exc), fixed[0], fixed[1])
        return error_response(request, status_for(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(request, 422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, exc.detail)

    @app.exception_handler(UnicodeEncodeError)
    async def unstorable_text(request: Request, exc: UnicodeEncodeError) -> Response:
        # Text that cannot be encoded reaching the database: refused like any bad input,
        # nothing stored (the session rolls back). Request bodies are checked before this
        # (schemas.Body); this catches what comes another way, such as a query parameter.
        return error_response(request, 422, unstorable_text_message(exc))

    @app.exception_handler(DataError)
    async def refused_value(request: Request, exc: DataError) -> Response:
        # A value the database refused that no check caught first: the driver's reason
        # (one line), never the SQL and its parameters.
        reason = (str(exc.orig).strip().splitlines() or ["invalid"])[0]
        log.error("database refused a value on %s %s: %s", request.method, request.url.path, reason)
        return error_response(request, 422, f"the database refused a value: {reason}")

    @app.exception_handler(OperationalError)
    async def database_error(request: Request, exc: OperationalError) -> Response:
        # A read-only, full or locked database: the driver's reason, never the SQL or data.
        log.error("database error on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(request, 503, f"the database failed: {exc.orig}")

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        if wants_json(request):
            return JSONResponse({"detail": "internal error"}, status_code=500)
        return HTMLResponse("<p>Internal error; see the server log.</p>", status_code=500)
