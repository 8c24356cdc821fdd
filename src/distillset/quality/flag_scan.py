"""Flags over the records of a project: a summary by kind, and pages of flagged records.

Flags are computed when asked, never stored: a length outlier depends on the other records of
its tag, and an edited answer must not keep a stale flag. A scan reads one batch of records
at a time.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.quality.flags import (
    FLAG_KINDS,
    WRONG_LANGUAGE,
    Flag,
    FlagContext,
    LengthStats,
    record_flags,
)
from distillset.quality.language import detect_language
from distillset.review import DatasetRecord, RecordFilter, RecordPage, fetch_page, iter_records
from distillset.store.models import Answer, Project, Question

MAX_PAGE_SIZE = 1_000
SCAN_BATCH = 500


def checked_kind(kind: str) -> str:
    if kind not in FLAG_KINDS:
        raise InvalidInputError(f"unknown flag {kind!r}: choose from {', '.join(FLAG_KINDS)}")
    return kind


def flag_context(session: Session, project: Project) -> FlagContext:
    """The project's language and, per tag, the median and spread of its answer lengths."""
    lengths: dict[int | None, list[int]] = {}
    rows = session.execute(
        select(Question.tag_id, func.length(Answer.answer))
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.project_id == project.id)
    )
    for tag_id, length in rows:
        lengths.setdefault(tag_id, []).append(int(length or 0))
    stats: dict[int | None, LengthStats] = {}
    for tag_id, values in lengths.items():
        median = statistics.median(values)
        mad = statistics.median(abs(value - median) for value in values)
        stats[tag_id] = LengthStats(median=float(median), mad=float(mad), count=len(values))
    return FlagContext(language=project.language, lengths=stats)


def assess(
    record: DatasetRecord, context: FlagContext, *, with_language: bool = True
) -> tuple[list[Flag], str | None]:
    """A record's flags and its answer's language (None: too short to tell, or not asked:
    telling the language is the slow part)."""
    language = detect_language(record.answer or "") if with_language else None
    return record_flags(record, context, language), language


def flagged_records(
    session: Session, project: Project, record_filter: RecordFilter | None = None
) -> Iterator[tuple[DatasetRecord, list[Flag], str | None]]:
    """Every matching record with its flags and language, oldest first."""
    context = flag_context(session, project)
    for batch in iter_records(session, project, record_filter or RecordFilter()):
        for record in batch:
            flags, language = assess(record, context)
            yield record, flags, language


@dataclass
class FlagSummary:
    records: int = 0
    flagged: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    # Up to a few records per kind: (record id, tag path, question, detail).
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "flagged": self.flagged,
            "by_kind": {kind: self.counts.get(kind, 0) for kind in FLAG_KINDS},
            "languages": dict(self.languages.most_common()),
            "examples": self.examples,
        }

    def add(
        self, record: DatasetRecord, flags: list[Flag], language: str | None, examples: int
    ) -> None:
        """Count one record (keeping up to ``examples`` records per kind)."""
        self.records += 1
        self.languages[language or "unknown"] += 1
        self.flagged += bool(flags)
        for flag in flags:
            self.counts[flag.kind] += 1
            shown = self.examples.setdefault(flag.kind, [])
            if len(shown) < examples:
                shown.append(
                    {
                        "record": record.id,
                        "tag_path": record.tag_path,
                        "question": record.question,
                        "detail": flag.detail,
                    }
                )


def summarize_flags(
    session: Session,
    project: Project,
    record_filter: RecordFilter | None = None,
    *,
    examples: int = 3,
) -> FlagSummary:
    """How many records carry each flag, with a few examples, and the answers' languages."""
    summary = FlagSummary()
    for record, flags, language in flagged_records(session, project, record_filter):
        summary.add(record, flags, language, examples)
    return summary


def list_flagged(
    session: Session,
    project: Project,
    kind: str,
    record_filter: RecordFilter | None = None,
    *,
    cursor: int | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> RecordPage:
    """One page of the matching records that carry flag ``kind`` (pages as list_records)."""
    checked_kind(kind)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    flt = record_filter or RecordFilter()
    context = flag_context(session, project)
    found: list[DatasetRecord] = []
    while len(found) <= limit:
        batch = fetch_page(
            session,
            project,
            flt,
            after=None if newest_first else cursor,
            before=cursor if newest_first else None,
            limit=SCAN_BATCH,
            newest_first=newest_first,
        )
        found += [r for r in batch if kind in _kinds(r, context, kind == WRONG_LANGUAGE)]
        if len(batch) < SCAN_BATCH:
            break
        cursor = batch[-1].id
    more = len(found) > limit
    found = found[:limit]
    return RecordPage(found, found[-1].id if more and found else None)


def _kinds(record: DatasetRecord, context: FlagContext, with_language: bool) -> set[str]:
    return {flag.kind for flag in assess(record, context, with_language=with_language)[0]}


def count_flagged(
    session: Session, project: Project, kind: str, record_filter: RecordFilter | None = None
) -> int:
    checked_kind(kind)
    return sum(
        1
        for _, flags, _ in flagged_records(session, project, record_filter)
        if any(flag.kind == kind for flag in flags)
    )
