"""A record's soft labels read back: every token with its probability and alternatives."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import review as service
from distillset.web.deps import DbSession, project_by_id
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}/records", tags=["dataset"])


@router.get("/{record_id}/tokens")
def record_tokens(project_id: RowId, record_id: RowId, session: DbSession) -> dict[str, Any]:
    """The teacher's tokens in the order of the text (reasoning first, `in_answer` false),
    each with its probability and the top-K alternatives; 404 with the reason when the
    record has no soft labels."""
    project = project_by_id(session, project_id)
    tokens = service.token_confidences(session, project, record_id)
    return {"record_id": record_id, "tokens": [token.as_dict() for token in tokens]}
