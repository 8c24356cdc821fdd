"""Dataset filters given by a page or an API query, as the review package's RecordFilter."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distillset.review import RecordFilter
from distillset.store import Project
from distillset.web.deps import tag_in_project


def record_filter(
    session: Session,
    project: Project,
    *,
    tag_id: int | None = None,
    confirmed: bool | None = None,
    scored: bool | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    search: str | None = None,
    min_difficulty: int | None = None,
) -> RecordFilter:
    """The web names a subtree by tag id, as the filter does: a tag of another project (or
    none) is a 404 here, before anything runs."""
    if tag_id is not None:
        tag_in_project(session, project, tag_id)
    return RecordFilter(
        tag_id=tag_id,
        confirmed=confirmed,
        scored=scored,
        min_score=min_score,
        max_score=max_score,
        search=search or None,
        min_difficulty=min_difficulty,
    )
