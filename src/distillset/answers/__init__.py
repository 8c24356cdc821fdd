"""Answers: generated for questions, with the teacher's reasoning."""

from distillset.answers.generate import AnswerOutcome, answer_question, resample_answer

__all__ = [
    "AnswerOutcome",
    "answer_question",
    "resample_answer",
]
