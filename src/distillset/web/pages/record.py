"""Page: one record on its own, with the teacher's confidence in each token of its answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from distillset import review as review_service
from distillset.domain import NotFoundError
from distillset.projects import list_endpoints
from distillset.web.api._score_tokens import start_scoring
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.pages.common import redirect, render
from distillset.web.pages.token_shading import LEGEND, shade
from distillset.web.schemas import RowId, TokenScoring, form_budget

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
        scorers=[endpoint.alias for endpoint in list_endpoints(session)],
    )


@router.post("/dataset/{record_id}/score-tokens")
async def score_record_tokens(
    project_id: RowId,
    record_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    endpoint: Annotated[str, Form(min_length=1, max_length=100)],
    k: Annotated[int, Form(ge=1, le=1000)] = 20,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Have an open-weight teacher score this answer's tokens (a task, followed on its
    page); an endpoint that cannot score given text is refused in one line beside the form."""
    with store.session() as session:  # a record of another project is a 404 here
        review_service.get_record(session, project_by_id(session, project_id), record_id)
    body = TokenScoring(endpoint=endpoint, k=k, ids=[record_id], max_cost=form_budget(max_cost))
    task_id = await start_scoring(store, settings, project_id, body)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")
