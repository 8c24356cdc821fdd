"""Starting a selection the same way from every interface: a vote runs at once, a judge
selection is a (resumable) judge task that scores the samples and then chooses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distillset.review.filters import RecordFilter
from distillset.review.judge import create_judge_task
from distillset.review.selection import SelectBy, SelectionResult, select_samples
from distillset.store import Project, Task
from distillset.tags.tree import tag_in_project


def start_selection(
    session: Session,
    project: Project,
    method: SelectBy,
    *,
    tag_id: int | None = None,
    model: str | None = None,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> SelectionResult | Task:
    """The vote's result (``consistency``), or the queued judge task to run (``judge``)."""
    if tag_id is not None:
        tag_id = tag_in_project(session, project, tag_id).id
    if method is SelectBy.CONSISTENCY:
        return select_samples(session, project, method, tag_id=tag_id)
    return create_judge_task(
        session,
        project,
        model=model,
        record_filter=RecordFilter(tag_id=tag_id),
        no_cache=no_cache,
        max_cost=max_cost,
        select=True,
    )
