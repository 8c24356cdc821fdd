"""Automatic distillation: the plan, the streaming scheduler, and the distill task kinds."""

from distillset.auto.jobs import (
    PlannedJob,
    create_answers_job,
    create_auto_job,
    create_questions_job,
    create_tags_job,
    list_questions,
    more_than_existing,
    preview_auto_job,
)
from distillset.auto.plan import Plan, PlanNeedsConfirmation

__all__ = [
    "Plan",
    "PlanNeedsConfirmation",
    "PlannedJob",
    "create_answers_job",
    "create_auto_job",
    "create_questions_job",
    "create_tags_job",
    "list_questions",
    "more_than_existing",
    "preview_auto_job",
]
