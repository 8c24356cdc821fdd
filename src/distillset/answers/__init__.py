"""Answers: generated for questions, with the teacher's reasoning."""

from distillset.answers.conversations import (
    TurnOutcome,
    advance_conversation,
    make_conversation,
    turns_planned,
)
from distillset.answers.generate import (
    AnswerOutcome,
    answer_again,
    answer_question,
    answer_samples,
    first_answer_id,
    resample_answer,
)

__all__ = [
    "AnswerOutcome",
    "TurnOutcome",
    "advance_conversation",
    "answer_again",
    "answer_question",
    "answer_samples",
    "first_answer_id",
    "make_conversation",
    "resample_answer",
    "turns_planned",
]
