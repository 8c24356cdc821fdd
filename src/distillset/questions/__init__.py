"""Questions: generated for leaf tags, listed with their answer counts."""

from distillset.questions.generate import generate_questions
from distillset.questions.listing import PAGE_SIZE, QuestionRow, list_questions, question_row

__all__ = [
    "PAGE_SIZE",
    "QuestionRow",
    "generate_questions",
    "list_questions",
    "question_row",
]
