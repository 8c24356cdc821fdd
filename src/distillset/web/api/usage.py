"""Usage and cost of a project's model calls: per model, per day, latency, per task."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import quality
from distillset.web.deps import DbSession, project_by_id
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}/usage", tags=["usage"])


@router.get("")
def get_usage(project_id: RowId, session: DbSession) -> dict[str, Any]:
    """Totals, per endpoint (with its model), per day (UTC), the latency distribution of
    successful calls (buckets and p50/p90/p99 in ms) and the latest tasks' calls and cost.
    A cost is null where no call had a price set on its endpoint."""
    project = project_by_id(session, project_id)
    return quality.usage_report(session, project.id)
