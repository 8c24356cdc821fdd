"""Answers: generated for questions, with the teacher's reasoning."""

from distillset.answers.generate import (
    AnswerOutcome,
    answer_again,
    answer_question,
    first_answer_id,
    resample_answer,
)
from distillset.answers.refine import REFINE_KIND, checked_advice, create_refine_task

__all__ = [
    "AnswerOutcome",
    "REFINE_KIND",
    "answer_again",
    "answer_question",
    "checked_advice",
    "create_refine_task",
    "first_answer_id",
    "resample_answer",
]
