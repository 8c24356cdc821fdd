"""Measuring students against the teacher on the held-out records (`distillset eval`):
graded by a judge with the teacher's answer as reference, and compared pairwise in both
orders; a report per tag and overall, for several students side by side."""

from distillset.evaluate.report import as_markdown, table_rows
from distillset.evaluate.task import EVAL_KIND, create_eval_task, task_report

__all__ = ["EVAL_KIND", "as_markdown", "create_eval_task", "table_rows", "task_report"]
