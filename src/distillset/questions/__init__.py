"""Questions: generated for leaf tags, listed with their answer counts, edited, deleted,
moved between tags."""

from distillset.questions.generate import generate_questions
from distillset.questions.listing import (
    PAGE_SIZE,
    QuestionFilter,
    QuestionRow,
    list_questions,
    question_row,
)
from distillset.questions.manage import (
    QuestionsDeleted,
    chosen_questions,
    count_questions,
    delete_questions,
    edit_question,
    move_questions,
)

__all__ = [
    "PAGE_SIZE",
    "QuestionFilter",
    "QuestionRow",
    "QuestionsDeleted",
    "chosen_questions",
    "count_questions",
    "delete_questions",
    "edit_question",
    "generate_questions",
    "list_questions",
    "move_questions",
    "question_row",
]
