"""Prompt templates of a project: view (default or override), override, reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import prompts as service
from distillset.web.deps import DbSession, project_by_id
from distillset.web.schemas import PromptOverride, RowId

router = APIRouter(prefix="/projects/{project_id}/prompts", tags=["prompts"])


def prompt_payload(prompt: service.ProjectPrompt) -> dict[str, Any]:
    kind = service.prompt_kind(prompt.kind)
    return {
        "kind": prompt.kind,
        "description": kind.description,
        "placeholders": list(kind.placeholders),
        "required": list(kind.required),
        "template": prompt.template,
        "overridden": prompt.overridden,
    }


@router.get("")
def list_prompts(project_id: RowId, session: DbSession) -> list[dict[str, Any]]:
    project = project_by_id(session, project_id)
    return [prompt_payload(service.get_prompt(session, project, kind)) for kind in service.KINDS]


@router.get("/{kind}")
def get_prompt(project_id: RowId, kind: str, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return prompt_payload(service.get_prompt(session, project, kind))


@router.put("/{kind}")
def override_prompt(
    project_id: RowId, kind: str, body: PromptOverride, session: DbSession
) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return prompt_payload(service.set_prompt(session, project, kind, body.template))


@router.delete("/{kind}")
def reset_prompt(project_id: RowId, kind: str, session: DbSession) -> dict[str, Any]:
    """Drop the override: the project uses the shipped template of its language again."""
    project = project_by_id(session, project_id)
    service.reset_prompt(session, project, kind)
    return prompt_payload(service.get_prompt(session, project, kind))
