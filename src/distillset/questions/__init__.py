"""Questions: generated for leaf tags, listed with their answer counts."""

from distillset.questions.listing import QuestionRow, list_questions, question_row

__all__ = ["QuestionRow", "list_questions", "question_row"]
