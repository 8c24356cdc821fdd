"""A record's history: the texts a refine, a restore or an edit replaced, and restoring one.

Restoring never loses the current text: it becomes the newest version first, so a restore
can itself be undone by restoring that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import NotFoundError
from distillset.review.editing import get_answer, get_record, score_values
from distillset.review.records import DatasetRecord
from distillset.review.versions import drop_generation_traces, keep_version
from distillset.store.models import Project, RecordVersion, utc_iso


@dataclass(frozen=True)
class Version:
    """An earlier text of a record, and what replaced it."""

    version: int
    answer: str
    reasoning: str | None
    model: str | None
    change: str
    task_id: int | None
    replaced_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "answer": self.answer,
            "reasoning": self.reasoning,
            "model": self.model,
            "change": self.change,
            "task_id": self.task_id,
            "replaced_at": utc_iso(self.replaced_at),
        }


def _version(row: RecordVersion) -> Version:
    return Version(
        row.version, row.answer, row.reasoning, row.model, row.change, row.task_id, row.created_at
    )


def record_history(session: Session, project: Project, record_id: int) -> list[Version]:
    """The record's earlier texts, oldest first (the current text is the record itself)."""
    get_answer(session, project, record_id)
    rows = session.scalars(
        select(RecordVersion)
        .where(RecordVersion.answer_id == record_id)
        .order_by(RecordVersion.version)
    )
    return [_version(row) for row in rows]


def restore_version(
    session: Session, project: Project, record_id: int, version: int
) -> DatasetRecord:
    """Bring back an earlier text of the record; the current one is kept as the newest
    version. The restored text starts unreviewed (unconfirmed, unscored), as a new one."""
    row = get_answer(session, project, record_id)
    old = session.scalar(
        select(RecordVersion).where(
            RecordVersion.answer_id == record_id, RecordVersion.version == version
        )
    )
    if old is None:
        raise NotFoundError(
            f"record {record_id} has no version {version} "
            f"(see `distillset dataset history {project.name!r} --id {record_id}`)"
        )
    keep_version(session, row, f"restored version {version}")
    row.answer, row.reasoning, row.model = old.answer, old.reasoning, old.model
    row.confirmed = False
    for name, value in score_values(None, None).items():
        setattr(row, name, value)
    session.flush()
    drop_generation_traces(session, record_id)
    session.expire(row)
    return get_record(session, project, record_id)
