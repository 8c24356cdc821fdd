"""Per-project prompt overrides, stored in the PromptOverride table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.prompts.templates import KINDS, check_template, default_template, prompt_kind
from distillset.store.models import Project, PromptOverride, utcnow


@dataclass(frozen=True)
class ProjectPrompt:
    kind: str
    template: str
    overridden: bool


def get_prompt(session: Session, project: Project, kind: str) -> ProjectPrompt:
    """The template a project uses for a kind: its override, else the language's default."""
    prompt_kind(kind)
    override = session.scalar(
        select(PromptOverride).where(
            PromptOverride.project_id == project.id, PromptOverride.kind == kind
        )
    )
    if override is not None:
        return ProjectPrompt(kind, override.template, True)
    return ProjectPrompt(kind, default_template(kind, project.language), False)


def project_templates(session: Session, project: Project) -> dict[str, str]:
    """Every kind's template for the project, as ``get_prompt`` gives it, in one read."""
    rows = session.execute(
        select(PromptOverride.kind, PromptOverride.template).where(
            PromptOverride.project_id == project.id
        )
    )
    overrides = {str(kind): str(template) for kind, template in rows}
    return {
        kind: overrides[kind] if kind in overrides else default_template(kind, project.language)
        for kind in KINDS
    }


def set_prompt(session: Session, project: Project, kind: str, template: str) -> ProjectPrompt:
    check_template(kind, template)
    override = session.scalar(
        select(PromptOverride).where(
            PromptOverride.project_id == project.id, PromptOverride.kind == kind
        )
    )
    if override is None:
        session.add(PromptOverride(project_id=project.id, kind=kind, template=template))
    else:
        override.template = template
        override.updated_at = utcnow()
    session.flush()
    return ProjectPrompt(kind, template, True)


def reset_prompt(session: Session, project: Project, kind: str) -> bool:
    """Drop the override; returns whether there was one."""
    prompt_kind(kind)
    override = session.scalar(
        select(PromptOverride).where(
            PromptOverride.project_id == project.id, PromptOverride.kind == kind
        )
    )
    if override is None:
        return False
    session.delete(override)
    session.flush()
    return True
