"""Keeping a record's text before it is replaced: the rows of its history.

Low level on purpose (a row in, a version number out), so that every change of a record's
text — an edit, a refine, a restore — keeps the text it replaces the same way.
"""

from __future__ import annotations

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from distillset.store.models import Answer, RecordVersion, SoftLabel, utcnow

_soft_labels: Table = SoftLabel.__table__  # type: ignore[assignment]
MAX_CHANGE_CHARS = 5_000


def next_version(session: Session, answer_id: int) -> int:
    latest = session.scalar(
        select(func.max(RecordVersion.version)).where(RecordVersion.answer_id == answer_id)
    )
    return int(latest or 0) + 1


def keep_version(session: Session, row: Answer, change: str, *, task_id: int | None = None) -> int:
    """Store the record's current answer, reasoning and model as its next version (before
    the caller replaces them); ``change`` says what replaces them. Returns the version."""
    version = next_version(session, row.id)
    session.execute(
        insert(RecordVersion).values(
            answer_id=row.id,
            version=version,
            answer=row.answer,
            reasoning=row.reasoning,
            model=row.model,
            change=change[:MAX_CHANGE_CHARS],
            task_id=task_id,
            created_at=utcnow(),
        )
    )
    return version


def drop_generation_traces(session: Session, answer_id: int) -> None:
    """A text not generated from the record's prompt (refined, restored, edited) has no
    exact generated text nor soft labels of its own: the old ones would describe other
    tokens, so they go (`answers score-tokens` can score the new text)."""
    session.execute(
        update(Answer)
        .where(Answer.id == answer_id)
        .values(raw_content=None, raw_reasoning=None, text_spans=None, soft_label_status=None)
    )
    session.execute(delete(_soft_labels).where(_soft_labels.c.answer_id == answer_id))
