"""The canonical dataset record and reading records in batches with keyset pagination.

Reading never holds more than one batch of rows: each batch continues after the last id of
the previous one (``answers.id > last``), which stays fast at any depth, unlike OFFSET.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.review.filters import RecordFilter, record_conditions
from distillset.store.models import Answer, Project, Question, utc_iso
from distillset.store.queries import TagPaths

DEFAULT_BATCH_SIZE = 2_000


@dataclass
class DatasetRecord:
    """One question with one answer: what review shows and every export format is built from."""

    id: int
    question_id: int
    tag_id: int | None
    tag_path: str
    question: str
    answer: str
    reasoning: str | None
    model: str | None
    variant: int = 0
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_ms: float | None = None
    confirmed: bool = False
    score: float | None = None
    score_reason: str | None = None
    scored_at: datetime | None = None
    note: str | None = None
    labels: list[str] = field(default_factory=list)
    question_model: str | None = None
    created_at: datetime | None = None
    question_origin: str | None = None
    question_created_at: datetime | None = None
    # What the teacher was sent (system prompt, rendered prompt, sampling); prompt None:
    # not known (stored before distillset kept it, or imported).
    system_prompt: str | None = None
    prompt: str | None = None
    sampling: dict[str, Any] | None = None
    # What became of the soft labels asked for with the answer (captured, absent, refused...;
    # see llm.soft_labels); None: none were asked for.
    soft_label_status: str | None = None
    # The judge's rating of the question's difficulty (1-10), its reason and when; None:
    # not rated.
    difficulty: int | None = None
    difficulty_reason: str | None = None
    rated_at: datetime | None = None
    # Whether selection chose this sample for its question, how (judge | consistency), and
    # for a vote the share of the question's samples that agree with the majority.
    chosen: bool = False
    selected_by: str | None = None
    agreement: float | None = None
    # A multi-turn record (a conversation): every turn as (role, content, reasoning), the
    # question first; ``question``, ``answer`` and ``reasoning`` are its first question and
    # its last reply. Empty for a single record.
    turns: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def prompt_known(self) -> bool:
        return self.prompt is not None

    def as_dict(self, *, with_prompt: bool = False) -> dict[str, Any]:
        """The record's fields; what the teacher was sent only when asked (long texts)."""
        data = asdict(self)
        if not self.turns:
            del data["turns"]
        if not with_prompt:
            for name in _PROMPT_FIELDS:
                del data[name]
        for moment in ("scored_at", "created_at", "question_created_at", "rated_at"):
            value = data[moment]
            data[moment] = utc_iso(value)
        return data


_PROMPT_FIELDS = ("system_prompt", "prompt", "sampling")


_COLUMNS = (
    Answer.id,
    Answer.question_id,
    Question.tag_id,
    Question.text,
    Answer.answer,
    Answer.reasoning,
    Answer.model,
    Answer.variant,
    Answer.finish_reason,
    Answer.input_tokens,
    Answer.output_tokens,
    Answer.reasoning_tokens,
    Answer.latency_ms,
    Answer.confirmed,
    Answer.score,
    Answer.score_reason,
    Answer.scored_at,
    Answer.note,
    Answer.labels,
    Question.model,
    Answer.created_at,
    Question.origin,
    Question.created_at,
    Answer.system_prompt,
    Answer.prompt,
    Answer.sampling,
    Answer.soft_label_status,
    Question.difficulty,
    Question.difficulty_reason,
    Question.rated_at,
    Answer.chosen,
    Question.selected_by,
    Question.agreement,
)


def _record(row: Any, paths: TagPaths) -> DatasetRecord:
    (
        answer_id,
        question_id,
        tag_id,
        question,
        answer,
        reasoning,
        model,
        variant,
        finish_reason,
        input_tokens,
        output_tokens,
        reasoning_tokens,
        latency_ms,
        confirmed,
        score,
        score_reason,
        scored_at,
        note,
        labels,
        question_model,
        created_at,
        question_origin,
        question_created_at,
        system_prompt,
        prompt,
        sampling,
        soft_label_status,
        difficulty,
        difficulty_reason,
        rated_at,
        chosen,
        selected_by,
        agreement,
    ) = row
    return DatasetRecord(
        id=answer_id,
        question_id=question_id,
        tag_id=tag_id,
        tag_path=paths.path(tag_id),
        question=question,
        answer=answer,
        reasoning=reasoning,
        model=model,
        variant=variant,
        finish_reason=finish_reason,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning_tokens,
        latency_ms=latency_ms,
        confirmed=bool(confirmed),
        score=score,
        score_reason=score_reason,
        scored_at=scored_at,
        note=note,
        labels=list(labels or []),
        question_model=question_model,
        created_at=created_at,
        question_origin=question_origin,
        question_created_at=question_created_at,
        system_prompt=system_prompt,
        prompt=prompt,
        sampling=sampling,
        soft_label_status=soft_label_status,
        difficulty=difficulty,
        difficulty_reason=difficulty_reason,
        rated_at=rated_at,
        chosen=bool(chosen),
        selected_by=selected_by,
        agreement=agreement,
    )


def fetch_page(
    session: Session,
    project: Project,
    record_filter: RecordFilter,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
    newest_first: bool = False,
    paths: TagPaths | None = None,
) -> list[DatasetRecord]:
    """One page of matching records in id order, continuing after (or before) a cursor id."""
    conditions, _ = record_conditions(session, project, record_filter)
    stmt = select(*_COLUMNS).join(Question, Question.id == Answer.question_id).where(*conditions)
    if after is not None:
        stmt = stmt.where(Answer.id > after)
    if before is not None:
        stmt = stmt.where(Answer.id < before)
    stmt = stmt.order_by(Answer.id.desc() if newest_first else Answer.id).limit(limit)
    rows = session.execute(stmt).all()
    paths = paths or TagPaths(session)
    paths.load(row.tag_id for row in rows)  # this page's paths in one query
    return [_record(row, paths) for row in rows]


def iter_records(
    session: Session,
    project: Project,
    record_filter: RecordFilter,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[list[DatasetRecord]]:
    """All matching records, oldest first, one batch at a time."""
    paths = TagPaths(session, project.id)
    after: int | None = None
    while True:
        batch = fetch_page(
            session, project, record_filter, after=after, limit=batch_size, paths=paths
        )
        if not batch:
            return
        yield batch
        after = batch[-1].id
        if len(batch) < batch_size:
            return
