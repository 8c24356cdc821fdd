"""Answers: generated for questions, with the teacher's reasoning."""

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
    "answer_again",
    "answer_question",
    "answer_samples",
    "first_answer_id",
    "resample_answer",
]
