"""Choosing the best of a question's samples: by the judge's score, or by a majority vote on
the short final answer (self-consistency).

The chosen sample is what an export takes from a question with several samples. A vote
records its agreement (the share of the question's samples whose final answer is the
majority's), so weakly agreed questions can be reviewed or left out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.review.filters import sampled_questions
from distillset.store import Answer, Project, Question
from distillset.tags.tree import subtree_ids_query

MAX_FINAL_ANSWER_CHARS = 80
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
# `Final answer: x` anywhere in a line, or a line that starts `Answer: x` / `The answer is: x`.
_FINAL_LINE = re.compile(
    r"(?:^\W*(?:the\s+)?answer|final\s+answer)\W*?(?:is)?\s*[:：]\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


class SelectBy(StrEnum):
    JUDGE = "judge"
    CONSISTENCY = "consistency"


def select_by(value: str) -> SelectBy:
    try:
        return SelectBy(value)
    except ValueError:
        choices = ", ".join(method.value for method in SelectBy)
        raise InvalidInputError(f"unknown selection {value!r}: choose {choices}") from None


def final_answer(text: str) -> str | None:
    """The short final answer a reply ends with (``\\boxed{...}``, or a last line
    ``Final answer: ...``), normalised for a vote; None when it has none."""
    boxed = _BOXED.findall(text)
    found = boxed[-1] if boxed else None
    if found is None:
        lines = _FINAL_LINE.findall(text)
        found = lines[-1] if lines else None
    if found is None:
        return None
    value = " ".join(found.replace("*", "").replace("$", "").split()).rstrip(".").lower()
    return value if value and len(value) <= MAX_FINAL_ANSWER_CHARS else None


@dataclass
class SelectionResult:
    method: str
    questions: int = 0  # questions with several samples considered
    chosen: int = 0  # questions whose chosen sample was set
    undecided: int = 0  # no scored sample, or no sample with a final answer
    agreement: float | None = None  # mean agreement over voted questions

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "questions": self.questions,
            "chosen": self.chosen,
            "undecided": self.undecided,
            "mean_agreement": None if self.agreement is None else round(self.agreement, 4),
        }


@dataclass(frozen=True)
class _Sample:
    answer_id: int
    variant: int
    score: float | None
    answer: str


def _samples(
    session: Session, project: Project, tag_id: int | None
) -> Iterator[tuple[int, list[_Sample]]]:
    """Each question with several samples, with them in variant order."""
    query = (
        select(Answer.question_id, Answer.id, Answer.variant, Answer.score, Answer.answer)
        .where(Answer.question_id.in_(sampled_questions(project.id)))
        .order_by(Answer.question_id, Answer.variant, Answer.id)
    )
    if tag_id is not None:
        in_tag = select(Question.id).where(Question.tag_id.in_(subtree_ids_query(tag_id)))
        query = query.where(Answer.question_id.in_(in_tag))
    current: int | None = None
    group: list[_Sample] = []
    for question_id, answer_id, variant, score, text in session.execute(query):
        if question_id != current and group:
            assert current is not None
            yield current, group
            group = []
        current = question_id
        group.append(_Sample(answer_id, variant, score, text))
    if group and current is not None:
        yield current, group


def best_scored(samples: list[_Sample]) -> _Sample | None:
    """The highest-scored sample (the lower variant on a tie); None when none is scored."""
    scored = [sample for sample in samples if sample.score is not None]
    return max(scored, key=lambda s: (s.score, -s.variant)) if scored else None


def majority(samples: list[_Sample]) -> tuple[_Sample, float] | None:
    """The sample to keep by majority vote on the final answer, and the agreement (the
    share of all samples that gave the majority's answer); a tie goes to the answer given
    first. Among the majority's samples the best scored, else the first, is kept."""
    finals = [final_answer(sample.answer) for sample in samples]
    votes = Counter(final for final in finals if final is not None)
    if not votes:
        return None
    winner, count = votes.most_common(1)[0]
    agreeing = [s for s, final in zip(samples, finals, strict=True) if final == winner]
    return best_scored(agreeing) or agreeing[0], count / len(samples)


def _choose(
    session: Session, question_id: int, chosen: int, method: str, agreement: float | None
) -> None:
    session.execute(
        update(Answer)
        .where(Answer.question_id == question_id)
        .values(chosen=Answer.id == chosen)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Question)
        .where(Question.id == question_id)
        .values(selected_by=method, agreement=agreement)
        .execution_options(synchronize_session=False)
    )


def select_samples(
    session: Session, project: Project, method: SelectBy, *, tag_id: int | None = None
) -> SelectionResult:
    """Choose one sample of each question with several (of a subtree with ``tag_id``):
    the best scored (``judge``: score them first with the judge task) or the majority's
    (``consistency``). A question that cannot be decided keeps its earlier choice."""
    result = SelectionResult(method.value)
    agreements: list[float] = []
    for question_id, samples in _samples(session, project, tag_id):
        result.questions += 1
        agreement: float | None = None
        if method is SelectBy.JUDGE:
            pick = best_scored(samples)
        else:
            voted = majority(samples)
            pick, agreement = voted if voted is not None else (None, None)
        if pick is None:
            result.undecided += 1
            continue
        _choose(session, question_id, pick.answer_id, method.value, agreement)
        result.chosen += 1
        if agreement is not None:
            agreements.append(agreement)
    if agreements:
        result.agreement = sum(agreements) / len(agreements)
    return result
