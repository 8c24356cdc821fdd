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
from distillset.answers.refine import REFINE_KIND, checked_advice, create_refine_task
from distillset.answers.score_tokens import (
    DEFAULT_SCORE_K,
    SCORE_TOKENS_KIND,
    create_score_task,
    probe_scoring,
)

__all__ = [
    "AnswerOutcome",
    "DEFAULT_SCORE_K",
    "REFINE_KIND",
    "SCORE_TOKENS_KIND",
    "TurnOutcome",
    "advance_conversation",
    "answer_again",
    "answer_question",
    "answer_samples",
    "checked_advice",
    "create_refine_task",
    "create_score_task",
    "first_answer_id",
    "make_conversation",
    "probe_scoring",
    "resample_answer",
    "turns_planned",
]
