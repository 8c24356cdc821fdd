"""Pages: the project list (create, open, delete) and the token login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from distillset import projects as service
from distillset.domain import LANGUAGES, DistillsetError
from distillset.web.deps import DbSession, project_by_id
from distillset.web.errors import status_for
from distillset.web.pages.common import redirect, render
from distillset.web.schemas import RowId
from distillset.web.security import TOKEN_COOKIE, token_matches

router = APIRouter()


def _project_list(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    refusal: DistillsetError | None = None,
) -> Response:
    """The list with its new-project form; a refused form comes back with what was typed
    and the reason beside it."""
    rows = [
        {"project": project, "stats": service.project_stats(session, project.id)}
        for project in service.list_projects(session)
    ]
    return render(
        request,
        "projects.html",
        status_code=status_for(refusal) if refusal else 200,
        rows=rows,
        languages=LANGUAGES,
        values=values or {"name": "", "language": "en"},
        form_error=str(refusal) if refusal else None,
    )


@router.get("/")
def project_list(request: Request, session: DbSession) -> Response:
    return _project_list(request, session)


@router.post("/projects")
def create_project(
    request: Request,
    session: DbSession,
    name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "en",
) -> Response:
    try:
        project = service.create_project(session, name, language=language)
    except DistillsetError as refusal:
        session.rollback()
        values = {"name": name, "language": language}
        return _project_list(request, session, values=values, refusal=refusal)
    return redirect(request, f"/projects/{project.id}/distill")


@router.get("/projects/{project_id}")
def open_project(project_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    return redirect(request, f"/projects/{project.id}/distill")


@router.post("/projects/{project_id}/delete")
def delete_project(project_id: RowId, request: Request, session: DbSession) -> Response:
    service.delete_project(session, project_by_id(session, project_id))
    return redirect(request, "/")


def _safe_next(target: str) -> str:
    # Only a path on this server: never an absolute or scheme-relative URL.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=_safe_next(next))


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    expected = request.app.state.token
    if expected and not token_matches(token, expected):
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            message="That token is not valid.",
            level="error",
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    if expected:
        response.set_cookie(
            TOKEN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response
