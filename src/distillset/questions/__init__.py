"""Questions: generated for leaf tags, listed with their answer counts."""

from distillset.questions.generate import generate_questions
from distillset.questions.listing import PAGE_SIZE, QuestionRow, list_questions, question_row
from distillset.questions.removal import RemovedQuestions, delete_questions

__all__ = [
    "PAGE_SIZE",
    "QuestionRow",
    "RemovedQuestions",
    "delete_questions",
    "generate_questions",
    "list_questions",
    "question_row",
]
