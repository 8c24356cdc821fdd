"""Page: the quality report of a project, from which a person decides what to export."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from distillset import quality
from distillset.web.api.quality import project_report
from distillset.web.deps import AppSettings, DbSession, project_by_id
from distillset.web.pages.common import render
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}")


@router.get("/quality")
def quality_page(
    project_id: RowId,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    semantic: bool = Query(default=False),
) -> Response:
    project = project_by_id(session, project_id)
    report = project_report(session, settings, project.id, semantic, None, 3, 3)
    return render(
        request,
        "quality.html",
        project=project,
        active="quality",
        semantic=semantic,
        sections=quality.render_sections(report),
    )
