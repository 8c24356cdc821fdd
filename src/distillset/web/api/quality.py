"""The quality report and the automatic flags of a project (as `report` and `dataset flags`).

Semantic duplicates and diversity come from the offline embedding model when asked for
(``semantic=true``; slow on a large project the first time, cached after); an embeddings
endpoint is not called from here, as any model call from the web would have to be a task.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from distillset import quality
from distillset.web.deps import AppSettings, DbSession, project_by_id
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}", tags=["quality"])


def project_report(
    session: Any,
    settings: Any,
    project_id: int,
    semantic: bool,
    threshold: float | None,
    few: int,
    examples: int,
) -> dict[str, Any]:
    """The report the API and the Quality page show (the CLI's `report`, with these options;
    no threshold: the scan's default, as the CLI's)."""
    project = project_by_id(session, project_id)
    embedder, problem = quality.report_embedder(session, settings, semantic or False, None)
    return quality.build_report(
        session,
        project,
        embedder=embedder,
        threshold=quality.DEFAULT_THRESHOLD if threshold is None else threshold,
        few=few,
        examples=examples,
        embedder_problem=problem,
    )


Semantic = Query(default=False, description="Semantic duplicates and diversity (offline model).")
Threshold = Query(
    default=None, gt=0, le=1, description="Cosine similarity of a duplicate (0.885 by default)."
)
Few = Query(default=3, ge=1, le=1000, description="A leaf with fewer records has 'few'.")
Examples = Query(default=3, ge=0, le=50, description="Examples per finding.")


@router.get("/report")
def get_report(
    project_id: RowId,
    session: DbSession,
    settings: AppSettings,
    semantic: bool = Semantic,
    threshold: float | None = Threshold,
    few: int = Few,
    examples: int = Examples,
) -> dict[str, Any]:
    """The quality report as JSON (as `distillset report --json`)."""
    return project_report(session, settings, project_id, semantic, threshold, few, examples)


@router.get("/report.html", response_class=HTMLResponse)
def get_report_html(
    project_id: RowId,
    session: DbSession,
    settings: AppSettings,
    semantic: bool = Semantic,
    threshold: float | None = Threshold,
    few: int = Few,
    examples: int = Examples,
) -> HTMLResponse:
    """The quality report as one self-contained HTML file (as `report --html`)."""
    data = project_report(session, settings, project_id, semantic, threshold, few, examples)
    name = f"quality-report-{project_id}.html"
    return HTMLResponse(
        quality.render_html(data),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/flags")
def get_flags(project_id: RowId, session: DbSession, examples: int = Examples) -> dict[str, Any]:
    """Records per automatic flag, with examples, and the answers' languages."""
    project = project_by_id(session, project_id)
    return quality.summarize_flags(session, project, examples=examples).as_dict()
