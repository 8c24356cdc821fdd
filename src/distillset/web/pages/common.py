"""What the page handlers share: rendering with the project in context, htmx redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from distillset.web.pages.templating import templates


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(request: Request, url: str) -> Response:
    """A redirect that works for a plain form post and for an htmx request alike."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def message(request: Request, text: str, level: str = "info") -> Response:
    return render(request, "_message.html", message=text, level=level)
