"""Page: one record on its own, with the teacher's confidence in each token of its answer."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distillset import review as review_service
from distillset.domain import NotFoundError
from distillset.web.deps import DbSession, project_by_id
from distillset.web.pages.common import render
from distillset.web.pages.token_shading import LEGEND, shade
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}")

LOWEST = 10


@router.get("/dataset/{record_id}")
def record_page(
    project_id: RowId, record_id: RowId, request: Request, session: DbSession
) -> Response:
    """The record, and where the teacher's soft labels are stored its answer token by token;
    a record without them says why."""
    project = project_by_id(session, project_id)
    record = review_service.get_record(session, project, record_id)
    try:
        tokens = review_service.token_confidences(session, project, record_id)
        no_tokens = None
    except NotFoundError as missing:
        tokens, no_tokens = [], str(missing)
    reasoning = [t for t in tokens if not t.in_answer]
    answer = [t for t in tokens if t.in_answer]
    lowest = sorted(tokens, key=lambda t: (t.probability, t.position))[:LOWEST]
    return render(
        request,
        "record.html",
        project=project,
        active="dataset",
        record=record,
        no_tokens=no_tokens,
        token_count=len(tokens),
        reasoning_tokens=shade(reasoning),
        answer_tokens=shade(answer),
        lowest=sorted(lowest, key=lambda t: t.position),
        legend=LEGEND,
    )
