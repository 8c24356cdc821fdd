"""Reading records' soft labels: a batch of them for an export, and one record's tokens the
teacher was least sure of.

Soft labels live in their own table and are read only here, by answer id, so listing or
exporting records without them never loads one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.domain import NotFoundError
from distillset.llm.soft_labels import SoftLabels, token_text, unpack
from distillset.review.editing import get_record
from distillset.store.models import Project, SoftLabel


@dataclass(frozen=True)
class StoredSoftLabels:
    """One answer's soft labels as stored: the unpacked labels and what is known of them."""

    answer_id: int
    labels: SoftLabels
    answer_start: int | None
    tokenizer: dict[str, Any]


def load_soft_labels(session: Session, answer_ids: list[int]) -> dict[int, StoredSoftLabels]:
    """The soft labels of these answers, by answer id (an answer without has no entry)."""
    found: dict[int, StoredSoftLabels] = {}
    for start in range(0, len(answer_ids), 500):
        rows = session.execute(
            select(
                SoftLabel.answer_id, SoftLabel.data, SoftLabel.answer_start, SoftLabel.tokenizer
            ).where(SoftLabel.answer_id.in_(answer_ids[start : start + 500]))
        )
        for answer_id, data, answer_start, tokenizer in rows:
            found[answer_id] = StoredSoftLabels(
                answer_id, unpack(bytes(data)), answer_start, dict(tokenizer or {})
            )
    return found


@dataclass(frozen=True)
class TokenConfidence:
    """A generated token, how likely the teacher found it, and what it weighed instead."""

    position: int
    token: str
    probability: float
    in_answer: bool  # after the reasoning (unknown alignment counts as answer)
    alternatives: list[tuple[str, float]]  # (token, probability), best first

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "token": self.token,
            "probability": self.probability,
            "in_answer": self.in_answer,
            "alternatives": [{"token": t, "probability": p} for t, p in self.alternatives],
        }


def token_confidences(session: Session, project: Project, record_id: int) -> list[TokenConfidence]:
    """Every token the teacher generated for a record, in the order of the text, with its
    probability and the alternatives it weighed; NotFoundError when the record has no soft
    labels (saying why)."""
    record = get_record(session, project, record_id)
    stored = load_soft_labels(session, [record.id]).get(record.id)
    if stored is None:
        why = record.soft_label_status or "not asked for: the endpoint's logprobs setting was 0"
        raise NotFoundError(f"record {record_id} has no soft labels ({why})")
    labels = stored.labels
    start = stored.answer_start or 0
    return [
        TokenConfidence(
            position=i,
            token=token_text(labels.tokens[i]),
            probability=math.exp(labels.logprobs[i]),
            in_answer=i >= start,
            alternatives=[
                (token_text(token), math.exp(logprob))
                for token, logprob in zip(labels.top_tokens[i], labels.top_logprobs[i], strict=True)
            ],
        )
        for i in range(len(labels))
    ]


def lowest_confidence(
    session: Session, project: Project, record_id: int, count: int = 10
) -> list[TokenConfidence]:
    """The ``count`` tokens of a record the teacher gave the lowest probability, in the order
    of the text; NotFoundError when the record has no soft labels (saying why)."""
    tokens = token_confidences(session, project, record_id)
    ranked = sorted(tokens, key=lambda token: (token.probability, token.position))
    return sorted(ranked[: max(0, count)], key=lambda token: token.position)
