"""Answers: generated for questions, with the teacher's reasoning."""
