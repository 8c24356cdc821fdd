"""Questions that ask the same thing in other words, across the whole project.

Every question gets a unit vector (see embedders); two questions whose cosine similarity is at
least the threshold are duplicates, unless a cheap second look finds a near miss (different
numbers, a negation, a detail added or swapped for another: see generation.near_miss, which
the generation-time guard uses too). The similarities are computed a block of rows at a time
(memory holds one block, never the n x n matrix). Questions are grouped oldest first: each
joins the group whose first question it is most similar to (above the threshold), so a group
never chains far from its first question.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.generation.near_miss import NearMissCheck
from distillset.quality.embedders import CachedEmbedder, Embedder
from distillset.store.models import Answer, Project, Question
from distillset.store.queries import TagPaths
from distillset.tags.tree import subtree_ids_query

# Cosine similarity at or above which two questions are one (before the near-miss veto).
# For all-MiniLM-L6-v2 with the veto, bench/dedup.py (1,500 questions seed 7, 2,000 seeds 3
# and 11) finds 0.90-0.92 of planted paraphrases at precision 0.91-0.96 here when distinct
# questions may differ in one detail (dense), 0.91-0.94 at 0.96 when they differ in two or
# more; 0.89 has precision 0.93-0.97 but paraphrase recall 0.88-0.92, 0.88 recall 0.90-0.96
# at precision 0.90-0.95.
DEFAULT_THRESHOLD = 0.885
# Elements of one block of similarities (float32): 128 MiB whatever the project's size.
BLOCK_ELEMENTS = 1 << 25


class PairCheck(Protocol):
    """A second look at two rows whose vectors are close: ``check(row, earlier)`` says
    whether they may be one; ``prepare`` hears of the pairs of a block first (to batch)."""

    def prepare(self, pairs: Iterable[tuple[int, int]]) -> None: ...

    def __call__(self, row: int, earlier: int, /) -> bool: ...


def near_miss_check(texts: list[str], embedder: Embedder) -> NearMissCheck:
    """The near-miss veto over ``texts``, embedding swapped phrases with ``embedder``'s model
    (phrases are not worth a disk cache, and a write per phrase)."""
    inner = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
    return NearMissCheck(texts, inner.embed)


def checked_threshold(threshold: float) -> float:
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError(
            f"the similarity threshold must be above 0 and at most 1, got {threshold:g}"
        )
    return threshold


@dataclass
class SemanticGroup:
    """Questions saying the same; the first (oldest) is the one to keep."""

    question_ids: list[int]
    texts: list[str]
    tag_paths: list[str]
    # Each member's similarity to the first question (1.0 for the first itself).
    similarities: list[float] = field(default_factory=list)
    # The records (answers) of the duplicates: what a label goes on.
    duplicate_records: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep": self.question_ids[0],
            "duplicates": self.question_ids[1:],
            "duplicate_records": self.duplicate_records,
            "questions": [
                {"id": qid, "text": text, "tag_path": path, "similarity": round(sim, 4)}
                for qid, text, path, sim in zip(
                    self.question_ids, self.texts, self.tag_paths, self.similarities, strict=True
                )
            ],
        }


def _earlier_hits(
    vectors: np.ndarray, threshold: float
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per block of rows [start, stop): the (row offset, column, similarity) of every earlier
    row (column < row) at least ``threshold`` similar, sorted by row then column."""
    count = len(vectors)
    block = max(1, BLOCK_ELEMENTS // max(1, count))
    for start in range(0, count, block):
        stop = min(count, start + block)
        sims = vectors[start:stop] @ vectors[:stop].T
        offsets, columns = np.nonzero(sims >= threshold)
        earlier = columns < offsets + start  # the diagonal and later rows are not earlier
        offsets, columns = offsets[earlier], columns[earlier]
        yield start, stop, offsets, columns, sims[offsets, columns]


def group_rows(
    vectors: np.ndarray,
    threshold: float,
    same: PairCheck | None = None,
) -> list[list[tuple[int, float]]]:
    """Groups of row indices (with each one's similarity to its group's first row): each row
    joins the group whose first row it is most similar to, at least ``threshold`` (and, with
    ``same``, that ``same(row, first row)`` confirms), else starts its own. Only first rows
    are compared, so a group never drifts from its first question; groups of one are left
    out."""
    group_of = np.full(len(vectors), -1)  # a group's first row -> the group's position
    groups: list[list[tuple[int, float]]] = []
    for start, stop, offsets, columns, similarities in _earlier_hits(vectors, threshold):
        if same is not None:
            same.prepare(zip((offsets + start).tolist(), columns.tolist(), strict=True))
        bounds = np.searchsorted(offsets, np.arange(stop - start + 1))
        for offset in range(stop - start):
            row = start + offset
            hits = range(bounds[offset], bounds[offset + 1])
            heads = [
                k
                for k in hits
                if group_of[columns[k]] >= 0 and (same is None or same(row, int(columns[k])))
            ]
            if not heads:
                group_of[row] = len(groups)
                groups.append([(row, 1.0)])
                continue
            best = max(heads, key=lambda k: similarities[k])
            groups[group_of[columns[best]]].append((row, float(similarities[best])))
    return [group for group in groups if len(group) > 1]


def _questions(session: Session, project: Project, tag_id: int | None) -> list[Any]:
    stmt = select(Question.id, Question.tag_id, Question.text).where(
        Question.project_id == project.id
    )
    if tag_id is not None:
        stmt = stmt.where(Question.tag_id.in_(subtree_ids_query(tag_id)))
    return list(session.execute(stmt.order_by(Question.id)).all())


def _records_of(session: Session, question_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for start in range(0, len(question_ids), 500):
        chunk = question_ids[start : start + 500]
        rows = session.execute(
            select(Answer.question_id, Answer.id)
            .where(Answer.question_id.in_(chunk))
            .order_by(Answer.id)
        )
        for question_id, answer_id in rows:
            found.setdefault(question_id, []).append(answer_id)
    return found


def question_vectors(
    session: Session, project: Project, embedder: Embedder, tag_id: int | None = None
) -> tuple[list[Any], np.ndarray]:
    """The questions (id, tag id, text; oldest first) and their unit vectors."""
    rows = _questions(session, project, tag_id)
    vectors = embedder.embed([row.text for row in rows])
    return rows, vectors


def find_semantic_duplicates(
    session: Session,
    project: Project,
    embedder: Embedder,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    tag_id: int | None = None,
) -> list[SemanticGroup]:
    """Groups of the project's questions (or a subtree's) that ask the same thing."""
    checked_threshold(threshold)
    rows, vectors = question_vectors(session, project, embedder, tag_id)
    return groups_of(session, project, rows, vectors, threshold, embedder)


def groups_of(
    session: Session,
    project: Project,
    rows: list[Any],
    vectors: np.ndarray,
    threshold: float,
    embedder: Embedder,
) -> list[SemanticGroup]:
    """The duplicate groups of questions already embedded (see question_vectors); near
    misses that the vectors cannot tell apart are vetoed (near_miss_check)."""
    if len(rows) < 2:
        return []
    paths = TagPaths(session, project.id)
    same = near_miss_check([row.text for row in rows], embedder)
    grouped = group_rows(vectors, threshold, same)
    duplicates = [rows[index].id for group in grouped for index, _ in group[1:]]
    records = _records_of(session, duplicates)
    result: list[SemanticGroup] = []
    for group in grouped:
        members = [rows[index] for index, _ in group]
        result.append(
            SemanticGroup(
                question_ids=[member.id for member in members],
                texts=[member.text for member in members],
                tag_paths=[paths.path(member.tag_id) for member in members],
                similarities=[similarity for _, similarity in group],
                duplicate_records=[
                    record for member in members[1:] for record in records.get(member.id, [])
                ],
            )
        )
    return result
