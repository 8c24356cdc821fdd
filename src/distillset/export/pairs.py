"""Preference pairs from best-of-N samples: each question's best and worst sample by score.

A question gives a pair when it has two scored samples whose scores differ by at least the
margin; the best (ties: the chosen one, then the lower variant) is *chosen*, the worst
(ties: the higher variant) *rejected*. Pairs are read in batches, so an export of any size
holds one batch of records at a time (and the ids of the pairs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.review.filters import MAX_SCORE, RecordFilter, record_conditions
from distillset.review.records import DatasetRecord, iter_records
from distillset.store import Answer, Project, Question

DEFAULT_MARGIN = 1.0


@dataclass
class PairedRecord(DatasetRecord):
    """The chosen sample of a pair, carrying its rejected sample."""

    rejected: DatasetRecord | None = None


def check_margin(margin: float) -> None:
    if isinstance(margin, bool) or not isinstance(margin, int | float):
        raise InvalidInputError(f"the margin must be a number, got {margin!r}")
    if not 0 < margin <= MAX_SCORE:
        raise InvalidInputError(f"the margin must be above 0 and at most {MAX_SCORE:g}")


def _pair_of(samples: list[tuple[int, float, bool, int]], margin: float) -> tuple[int, int] | None:
    best = max(samples, key=lambda s: (s[1], s[2], -s[3]))
    worst = min(samples, key=lambda s: (s[1], s[2], -s[3]))
    if best[0] == worst[0] or best[1] - worst[1] < margin:
        return None
    return best[0], worst[0]


def pair_ids(
    session: Session, project: Project, record_filter: RecordFilter, margin: float
) -> list[tuple[int, int]]:
    """(chosen id, rejected id) for each question the filter's scored samples pair up."""
    scored = replace(record_filter, one_per_question=None, scored=True)
    conditions, needs_question = record_conditions(session, project, scored)
    query = select(Answer.question_id, Answer.id, Answer.score, Answer.chosen, Answer.variant)
    if needs_question:
        query = query.join(Question, Question.id == Answer.question_id)
    query = query.where(*conditions).order_by(Answer.question_id, Answer.id)
    pairs: list[tuple[int, int]] = []
    current: int | None = None
    group: list[tuple[int, float, bool, int]] = []
    for question_id, answer_id, score, chosen, variant in session.execute(query):
        if question_id != current and group:
            pair = _pair_of(group, margin)
            if pair is not None:
                pairs.append(pair)
            group = []
        current = question_id
        group.append((answer_id, float(score or 0), bool(chosen), variant))
    if group and (pair := _pair_of(group, margin)) is not None:
        pairs.append(pair)
    return pairs


def _paired(record: DatasetRecord, rejected: DatasetRecord) -> PairedRecord:
    values: dict[str, Any] = {item.name: getattr(record, item.name) for item in fields(record)}
    return PairedRecord(**values, rejected=rejected)


def iter_pairs(
    session: Session,
    project: Project,
    record_filter: RecordFilter,
    margin: float,
    *,
    batch_size: int,
) -> Iterator[list[DatasetRecord]]:
    """The chosen sample of every pair, carrying its rejected one, a batch at a time."""
    pairs = pair_ids(session, project, record_filter, margin)
    step = max(1, batch_size // 2)
    for start in range(0, len(pairs), step):
        chunk = pairs[start : start + step]
        wanted = tuple(answer_id for pair in chunk for answer_id in pair)
        found: dict[int, DatasetRecord] = {}
        for batch in iter_records(
            session, project, RecordFilter(ids=wanted), batch_size=len(wanted)
        ):
            found.update((record.id, record) for record in batch)
        yield [
            _paired(found[chosen], found[rejected])
            for chosen, rejected in chunk
            if chosen in found and rejected in found  # deleted meanwhile: left out
        ]
