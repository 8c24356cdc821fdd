"""A record's soft labels read back (every token with its probability and alternatives),
and added to existing answers by an endpoint that scores given text (a task)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import review as service
from distillset.kinds import task_as_dict
from distillset.runs import get_task
from distillset.web.api._jobs import in_session
from distillset.web.api._score_tokens import start_scoring
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.schemas import RowId, TokenScoring

router = APIRouter(prefix="/projects/{project_id}/records", tags=["dataset"])


@router.get("/{record_id}/tokens")
def record_tokens(project_id: RowId, record_id: RowId, session: DbSession) -> dict[str, Any]:
    """The teacher's tokens in the order of the text (reasoning first, `in_answer` false),
    each with its probability and the top-K alternatives; 404 with the reason when the
    record has no soft labels."""
    project = project_by_id(session, project_id)
    tokens = service.token_confidences(session, project, record_id)
    return {"record_id": record_id, "tokens": [token.as_dict() for token in tokens]}


@router.post("/score-tokens", status_code=202)
async def score_tokens(
    project_id: RowId, body: TokenScoring, store: AppStore, settings: AppSettings, runner: Runner
) -> dict[str, Any]:
    """Add soft labels to the chosen records that have none: the endpoint scores each
    answer's tokens as a task (as `answers score-tokens`). One probe request first: an
    endpoint that cannot score given text (llama.cpp, hosted APIs) is refused (422)."""
    task_id = await start_scoring(store, settings, project_id, body)
    runner.start(task_id)
    return await in_session(
        store, lambda session: task_as_dict(get_task(session, task_id), settings)
    )
